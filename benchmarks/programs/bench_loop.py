def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


total = 0
for i in range(1, 12000):
    total += gcd(i * 7919, 3571)
print(total)
