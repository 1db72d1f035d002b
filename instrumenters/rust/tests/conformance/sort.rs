fn bubble(xs: &mut Vec<i32>) -> i32 {
    let mut swaps = 0;
    let n = xs.len();
    for i in 0..n {
        for j in 0..n - 1 - i {
            if xs[j] > xs[j + 1] {
                xs.swap(j, j + 1);
                swaps += 1;
            }
        }
    }
    swaps
}

fn main() {
    let mut xs = vec![5, 2, 9, 1, 7];
    let swaps = bubble(&mut xs);
    let text: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    println!("{}", text.join(" "));
    println!("{}", swaps);
}
