func makeCounter() -> () -> Int { let __ca_f = __CA.call(0, []); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, []) }; var count = 0
    if __CA.on { __CA.line(2, __ca_f, [("count", __CA.s(count))]) }; return __CA.ret(__ca_f, 3, {
        count += 1
        return count
    })
}

let __ca_m = __CA.module(4); if __CA.on { __CA.line(5, __ca_m, []) }; let next = makeCounter()
if __CA.on { __CA.line(6, __ca_m, [("next", __CA.s(next))]) }; print(next())
if __CA.on { __CA.line(7, __ca_m, [("next", __CA.s(next))]) }; print(next())
if __CA.on { __CA.line(8, __ca_m, [("next", __CA.s(next))]) }; print(next())
__CA.moduleEnd(__ca_m, 9)
