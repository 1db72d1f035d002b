import os

for path in os.environ["SECRETS"].split(":"):
    try:
        with open(path) as f:
            print("READ", path, f.read(20))
    except OSError as e:
        print("denied", path, e.strerror)
print("root has", sorted(os.listdir("/root")))
