enum MathError: Error {
    case divisionByZero
}

func divide(_ a: Int, _ b: Int) throws -> Int { let __ca_f = __CA.call(0, [("a", __CA.s(a)), ("b", __CA.s(b))]); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b))]) }; if b == 0 {
        if __CA.on { __CA.line(2, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b))]) }; throw __CA.thrown(__ca_f, 3, MathError.divisionByZero)
    }
    if __CA.on { __CA.line(4, __ca_f, [("a", __CA.s(a)), ("b", __CA.s(b))]) }; return __CA.ret(__ca_f, 5, a / b)
}

let __ca_m = __CA.module(6); if __CA.on { __CA.line(7, __ca_m, []) }; print(try divide(10, 2))
if __CA.on { __CA.line(8, __ca_m, []) }; do {
    if __CA.on { __CA.line(9, __ca_m, []) }; _ = try divide(1, 0)
} catch { __CA.caught(__ca_m, 10, error);
    if __CA.on { __CA.line(11, __ca_m, [("error", __CA.s(error))]) }; print("error")
}
__CA.moduleEnd(__ca_m, 12)
