func bubble(_ xs: inout [Int]) -> Int {
    var swaps = 0
    for i in 0..<xs.count {
        for j in 0..<(xs.count - i - 1) {
            if xs[j] > xs[j + 1] {
                xs.swapAt(j, j + 1)
                swaps += 1
            }
        }
    }
    return swaps
}

var xs = [5, 2, 9, 1, 7]
let swaps = bubble(&xs)
print(xs.map { String($0) }.joined(separator: " "))
print(swaps)
