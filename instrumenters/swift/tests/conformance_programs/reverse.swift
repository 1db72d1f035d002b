func reverse(_ s: String) -> String {
    var out = ""
    for ch in s {
        out = String(ch) + out
    }
    return out
}

print(reverse("hello"))
