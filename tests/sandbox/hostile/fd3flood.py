import os

# alternating stdout/stderr output records: each a separate event on the host, ~40x its bytes
chunk = b"o\t1\tab\no\t2\tcd\n" * 4096
for _ in range(int(os.environ.get("MB", "64")) * (1 << 20) // len(chunk)):
    os.write(3, chunk)
print("flooded")
