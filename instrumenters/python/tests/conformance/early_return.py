def find(xs, target):
    for i, x in enumerate(xs):
        if x == target:
            return i
    return -1


xs = [4, 8, 15, 16]
print(find(xs, 15))
print(find(xs, 3))
