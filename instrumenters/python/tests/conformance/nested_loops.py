def table(n):
    total = 0
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            total += i * j
    return total


print(table(3))
