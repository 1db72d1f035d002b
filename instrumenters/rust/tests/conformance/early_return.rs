fn find(xs: &[i32], target: i32) -> i32 {
    for (i, x) in xs.iter().enumerate() {
        if *x == target {
            return i as i32;
        }
    }
    -1
}

fn main() {
    let xs = [4, 8, 15, 16];
    println!("{}", find(&xs, 15));
    println!("{}", find(&xs, 3));
}
