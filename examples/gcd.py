def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


pairs = [(12, 9), (100, 75), (17, 5)]
total = 0
for x, y in pairs:
    g = gcd(x, y)
    total += g
    print(f"gcd({x}, {y}) = {g}")
print("total", total)
