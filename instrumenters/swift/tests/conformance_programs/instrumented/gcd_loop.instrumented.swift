func gcd(_ a: Int, _ b: Int) -> Int { let __ca_f = __CA.call(0, [("a", __CA.s(a)), ("b", __CA.s(b))]); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b))]) }; var a = a
    if __CA.on { __CA.line(2, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b))]) }; var b = b
    while __CA.t(3, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b))]), b != 0 {
        if __CA.on { __CA.line(4, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b))]) }; let t = a % b
        if __CA.on { __CA.line(5, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b)), ("t", __CA.s(t))]) }; a = b
        if __CA.on { __CA.line(6, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b)), ("t", __CA.s(t))]) }; b = t
    }
    if __CA.on { __CA.line(7, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b))]) }; return __CA.ret(__ca_f, 8, a)
}

let __ca_m = __CA.module(9); if __CA.on { __CA.line(10, __ca_m, []) }; print(gcd(48, 18))
if __CA.on { __CA.line(11, __ca_m, []) }; print(gcd(17, 5))
__CA.moduleEnd(__ca_m, 12)
