func gcd(_ a: Int, _ b: Int) -> Int {
    var a = a
    var b = b
    while b != 0 {
        let t = a % b
        a = b
        b = t
    }
    return a
}

print(gcd(48, 18))
print(gcd(17, 5))
