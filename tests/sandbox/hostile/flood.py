import sys

block = b"y" * (1 << 20)
for _ in range(300):
    sys.stdout.buffer.write(block)
