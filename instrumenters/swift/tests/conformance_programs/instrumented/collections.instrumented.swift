func countWords(_ text: String) -> Int { let __ca_f = __CA.call(0, [("text", __CA.s(text))]); defer { __CA.exit(__ca_f) };
    if __CA.on { __CA.line(1, __ca_f, [("text", __CA.s(text))]) }; var seen = Set<String>()
    if __CA.on { __CA.line(2, __ca_f, [("text", __CA.s(text)), ("seen", __CA.s(seen))]) }; for word in text.split(separator: " ") { if __CA.on { __CA.line(3, __ca_f, [("text", __CA.s(text)), ("seen", __CA.s(seen)), ("word", __CA.s(word))]) };
        if __CA.on { __CA.line(4, __ca_f, [("text", __CA.s(text)), ("seen", __CA.s(seen)), ("word", __CA.s(word))]) }; seen.insert(String(word))
    }
    if __CA.on { __CA.line(5, __ca_f, [("text", __CA.s(text)), ("seen", __CA.s(seen))]) }; return __CA.ret(__ca_f, 6, seen.count)
}

let __ca_m = __CA.module(7); if __CA.on { __CA.line(8, __ca_m, []) }; print(countWords("the cat and the hat"))
__CA.moduleEnd(__ca_m, 9)
