import time


def wait_forever():
    time.sleep(1000)


wait_forever()
