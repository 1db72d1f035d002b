def bubble(xs):
    swaps = 0
    n = len(xs)
    for i in range(n):
        for j in range(n - 1 - i):
            if xs[j] > xs[j + 1]:
                xs[j], xs[j + 1] = xs[j + 1], xs[j]
                swaps += 1
    return swaps


data = [5, 2, 9, 1, 7]
count = bubble(data)
print(" ".join(str(x) for x in data))
print(count)
