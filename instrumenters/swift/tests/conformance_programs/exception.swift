enum MathError: Error {
    case divisionByZero
}

func divide(_ a: Int, _ b: Int) throws -> Int {
    if b == 0 {
        throw MathError.divisionByZero
    }
    return a / b
}

print(try divide(10, 2))
do {
    _ = try divide(1, 0)
} catch {
    print("error")
}
