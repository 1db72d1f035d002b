import time

# 3 s of CPU time, however long the machine takes to give them
n = 0
while time.process_time() < 3.0:
    n += 1
print("done", n > 0)
