use std::collections::HashSet;

fn count_words(text: &str) -> usize {
    let mut seen = HashSet::new();
    for w in text.split_whitespace() {
        seen.insert(w);
    }
    seen.len()
}

fn main() {
    println!("{}", count_words("the cat and the hat"));
}
