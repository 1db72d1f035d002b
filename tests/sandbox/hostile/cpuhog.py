import os

# 60 detached children spinning, and the parent too: one run, many scheduling entities
for _ in range(60):
    try:
        if os.fork() == 0:
            os.setsid()
            while True:
                pass
    except OSError:
        break
while True:
    pass
