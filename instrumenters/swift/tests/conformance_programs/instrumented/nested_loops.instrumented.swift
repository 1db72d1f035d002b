func table(_ n: Int) -> Int { let __ca_f = __CA.call(0, [("n", __CA.s(n))]); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, [("n", __CA.s(n))]) }; var total = 0
    if __CA.on { __CA.line(2, __ca_f, [("n", __CA.s(n)), ("total", __CA.s(total))]) }; for i in 1...n { if __CA.on { __CA.line(3, __ca_f, [("n", __CA.s(n)), ("total", __CA.s(total)), ("i", __CA.s(i))]) };
        if __CA.on { __CA.line(4, __ca_f, [("n", __CA.s(n)), ("total", __CA.s(total)), ("i", __CA.s(i))]) }; for j in 1...n { if __CA.on { __CA.line(5, __ca_f, [("n", __CA.s(n)), ("total", __CA.s(total)), ("i", __CA.s(i)), ("j", __CA.s(j))]) };
            if __CA.on { __CA.line(6, __ca_f, [("n", __CA.s(n)), ("total", __CA.s(total)), ("i", __CA.s(i)), ("j", __CA.s(j))]) }; total += i * j
        }
    }
    if __CA.on { __CA.line(7, __ca_f, [("n", __CA.s(n)), ("total", __CA.s(total))]) }; return __CA.ret(__ca_f, 8, total)
}

let __ca_m = __CA.module(9); if __CA.on { __CA.line(10, __ca_m, []) }; print(table(3))
__CA.moduleEnd(__ca_m, 11)
