func table(_ n: Int) -> Int {
    var total = 0
    for i in 1...n {
        for j in 1...n {
            total += i * j
        }
    }
    return total
}

print(table(3))
