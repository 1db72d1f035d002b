fn table(n: i32) -> i32 {
    let mut total = 0;
    for i in 1..=n {
        for j in 1..=n {
            total += i * j;
        }
    }
    total
}

fn main() {
    println!("{}", table(3));
}
