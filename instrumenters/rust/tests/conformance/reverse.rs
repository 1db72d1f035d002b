fn reverse(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        out.insert(0, c);
    }
    out
}

fn main() {
    println!("{}", reverse("hello"));
}
