fn make_counter() -> impl FnMut() -> i32 {
    let mut count = 0;
    move || {
        count += 1;
        count
    }
}

fn main() {
    let mut next = make_counter();
    println!("{}", next());
    println!("{}", next());
    println!("{}", next());
}
