def bubble(xs):
    swaps = 0
    for i in range(len(xs)):
        for j in range(len(xs) - 1 - i):
            if xs[j] > xs[j + 1]:
                xs[j], xs[j + 1] = xs[j + 1], xs[j]
                swaps += 1
    return swaps


data = [5, 2, 9, 1, 7]
n = bubble(data)
print(" ".join(str(x) for x in data))
print(n)
