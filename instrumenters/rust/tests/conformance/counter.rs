struct Counter {
    count: i32,
}

impl Counter {
    fn increment(&mut self) -> i32 {
        self.count += 1;
        self.count
    }
}

fn main() {
    let mut c = Counter { count: 0 };
    c.increment();
    c.increment();
    let last = c.increment();
    println!("{}", last);
}
