func countWords(_ text: String) -> Int {
    var seen = Set<String>()
    for word in text.split(separator: " ") {
        seen.insert(String(word))
    }
    return seen.count
}

print(countWords("the cat and the hat"))
