class Counter {
    var count = 0

    func increment() -> Int {
        count += 1
        return count
    }
}

let c = Counter()
_ = c.increment()
_ = c.increment()
print(c.increment())
