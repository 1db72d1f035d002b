func fact(_ n: Int) -> Int { let __ca_f = __CA.call(0, [("n", __CA.s(n))]); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, [("n", __CA.s(n))]) }; if n <= 1 {
        if __CA.on { __CA.line(2, __ca_f, [("n", __CA.s(n))]) }; return __CA.ret(__ca_f, 3, 1)
    }
    if __CA.on { __CA.line(4, __ca_f, [("n", __CA.s(n))]) }; return __CA.ret(__ca_f, 5, n * fact(n - 1))
}

let __ca_m = __CA.module(6); if __CA.on { __CA.line(7, __ca_m, []) }; print(fact(5))
__CA.moduleEnd(__ca_m, 8)
