use std::panic;

fn divide(a: i32, b: i32) -> i32 {
    if b == 0 {
        panic!("division by zero");
    }
    a / b
}

fn main() {
    panic::set_hook(Box::new(|_| {}));
    println!("{}", divide(10, 2));
    match panic::catch_unwind(|| divide(1, 0)) {
        Ok(v) => println!("{}", v),
        Err(_) => println!("error"),
    }
}
