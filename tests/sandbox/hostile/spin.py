def spin():
    n = 0
    while True:
        n += 1


spin()
