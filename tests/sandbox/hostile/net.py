import os
import socket

s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(os.environ["PORT"])))
    s.sendall(b"escaped")
    print("CONNECTED")
except OSError as e:
    print("blocked", e)
