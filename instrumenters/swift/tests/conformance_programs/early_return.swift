func find(_ xs: [Int], _ target: Int) -> Int {
    for (i, x) in xs.enumerated() {
        if x == target {
            return i
        }
    }
    return -1
}

let xs = [4, 8, 15, 16]
print(find(xs, 15))
print(find(xs, 3))
