import os
import socket

s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(os.environ["PORT"])))
    s.sendall(b"escaped")
    print("CONNECTED tcp")
except OSError as e:
    print("blocked tcp", e)
u = socket.socket(socket.AF_UNIX)
try:
    u.connect(os.environ["SOCK"])
    u.sendall(b"escaped")
    print("CONNECTED unix")
except OSError as e:
    print("blocked unix", e)
