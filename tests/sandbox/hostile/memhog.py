chunks = []
while True:
    chunks.append(b"x" * (1 << 20))
