import os

m = os.environ["MARKER"]
for d in ("/var/tmp", os.environ["HOME"], "/etc", "/root", "/tmp", "/usr"):
    try:
        with open(os.path.join(d, m), "w") as f:
            f.write("escaped")
        print("wrote", d)
    except OSError as e:
        print("denied", d, e.strerror)
