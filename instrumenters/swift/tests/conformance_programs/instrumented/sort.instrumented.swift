func bubble(_ xs: inout [Int]) -> Int { let __ca_f = __CA.call(0, [("xs", __CA.s(xs))]); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, [("xs", __CA.s(xs))]) }; var swaps = 0
    if __CA.on { __CA.line(2, __ca_f, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps))]) }; for i in 0..<xs.count { if __CA.on { __CA.line(3, __ca_f, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps)), ("i", __CA.s(i))]) };
        if __CA.on { __CA.line(4, __ca_f, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps)), ("i", __CA.s(i))]) }; for j in 0..<(xs.count - i - 1) { if __CA.on { __CA.line(5, __ca_f, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps)), ("i", __CA.s(i)), ("j", __CA.s(j))]) };
            if __CA.on { __CA.line(6, __ca_f, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps)), ("i", __CA.s(i)), ("j", __CA.s(j))]) }; if xs[j] > xs[j + 1] {
                if __CA.on { __CA.line(7, __ca_f, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps)), ("i", __CA.s(i)), ("j", __CA.s(j))]) }; xs.swapAt(j, j + 1)
                if __CA.on { __CA.line(8, __ca_f, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps)), ("i", __CA.s(i)), ("j", __CA.s(j))]) }; swaps += 1
            }
        }
    }
    if __CA.on { __CA.line(9, __ca_f, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps))]) }; return __CA.ret(__ca_f, 10, swaps)
}

let __ca_m = __CA.module(11); if __CA.on { __CA.line(12, __ca_m, []) }; var xs = [5, 2, 9, 1, 7]
if __CA.on { __CA.line(13, __ca_m, [("xs", __CA.s(xs))]) }; let swaps = bubble(&xs)
if __CA.on { __CA.line(14, __ca_m, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps))]) }; print(xs.map { String($0) }.joined(separator: " "))
if __CA.on { __CA.line(15, __ca_m, [("xs", __CA.s(xs)), ("swaps", __CA.s(swaps))]) }; print(swaps)
__CA.moduleEnd(__ca_m, 16)
