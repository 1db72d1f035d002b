def divide(a, b):
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return a // b


print(divide(10, 2))
try:
    divide(1, 0)
except ZeroDivisionError:
    print("error")
