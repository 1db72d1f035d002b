def make_counter():
    count = 0

    def step():
        nonlocal count
        count += 1
        return count
    return step


counter = make_counter()
print(counter())
print(counter())
print(counter())
