func reverse(_ s: String) -> String { let __ca_f = __CA.call(0, [("s", __CA.s(s))]); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, [("s", __CA.s(s))]) }; var out = ""
    if __CA.on { __CA.line(2, __ca_f, [("s", __CA.s(s)), ("out", __CA.s(out))]) }; for ch in s { if __CA.on { __CA.line(3, __ca_f, [("s", __CA.s(s)), ("out", __CA.s(out)), ("ch", __CA.s(ch))]) };
        if __CA.on { __CA.line(4, __ca_f, [("s", __CA.s(s)), ("out", __CA.s(out)), ("ch", __CA.s(ch))]) }; out = String(ch) + out
    }
    if __CA.on { __CA.line(5, __ca_f, [("s", __CA.s(s)), ("out", __CA.s(out))]) }; return __CA.ret(__ca_f, 6, out)
}

let __ca_m = __CA.module(7); if __CA.on { __CA.line(8, __ca_m, []) }; print(reverse("hello"))
__CA.moduleEnd(__ca_m, 9)
