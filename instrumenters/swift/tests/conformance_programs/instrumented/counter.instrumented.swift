class Counter {
    var count = 0

    func increment() -> Int { let __ca_f = __CA.call(0, []); defer { __CA.exit(__ca_f) };
        if __CA.on { __CA.line(1, __ca_f, []) }; count += 1
        if __CA.on { __CA.line(2, __ca_f, []) }; return __CA.ret(__ca_f, 3, count)
    }
}

let __ca_m = __CA.module(4); if __CA.on { __CA.line(5, __ca_m, []) }; let c = Counter()
if __CA.on { __CA.line(6, __ca_m, [("c", __CA.s(c))]) }; _ = c.increment()
if __CA.on { __CA.line(7, __ca_m, [("c", __CA.s(c))]) }; _ = c.increment()
if __CA.on { __CA.line(8, __ca_m, [("c", __CA.s(c))]) }; print(c.increment())
__CA.moduleEnd(__ca_m, 9)
