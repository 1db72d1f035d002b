import os

fd = int(os.environ["CODEALCHEMY_TRACE_FD"])
line = b"l\t1\t0\t1\n"
for _ in range(10_000_000):
    os.write(fd, line)
