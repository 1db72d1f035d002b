import os

os.write(3, b"\xff\xfe not a record\nl\tnot-a-probe\t1\t0\nzz\n")
x = 1
print(x)
