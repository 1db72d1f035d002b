func find(_ xs: [Int], _ target: Int) -> Int { let __ca_f = __CA.call(0, [("xs", __CA.s(xs)), ("target", __CA.s(target))]); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, [("xs", __CA.s(xs)), ("target", __CA.s(target))]) }; for (i, x) in xs.enumerated() { if __CA.on { __CA.line(2, __ca_f, [("xs", __CA.s(xs)), ("target", __CA.s(target)), ("i", __CA.s(i)), ("x", __CA.s(x))]) };
        if __CA.on { __CA.line(3, __ca_f, [("xs", __CA.s(xs)), ("target", __CA.s(target)), ("i", __CA.s(i)), ("x", __CA.s(x))]) }; if x == target {
            if __CA.on { __CA.line(4, __ca_f, [("xs", __CA.s(xs)), ("target", __CA.s(target)), ("i", __CA.s(i)), ("x", __CA.s(x))]) }; return __CA.ret(__ca_f, 5, i)
        }
    }
    if __CA.on { __CA.line(6, __ca_f, [("xs", __CA.s(xs)), ("target", __CA.s(target))]) }; return __CA.ret(__ca_f, 7, -1)
}

let __ca_m = __CA.module(8); if __CA.on { __CA.line(9, __ca_m, []) }; let xs = [4, 8, 15, 16]
if __CA.on { __CA.line(10, __ca_m, [("xs", __CA.s(xs))]) }; print(find(xs, 15))
if __CA.on { __CA.line(11, __ca_m, [("xs", __CA.s(xs))]) }; print(find(xs, 3))
__CA.moduleEnd(__ca_m, 12)
