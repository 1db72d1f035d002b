import ctypes
import errno
import os

# kernel interfaces a traced program never needs; NR holds name=number pairs for this machine
libc = ctypes.CDLL(None, use_errno=True)
nr = dict(pair.split("=") for pair in os.environ["NR"].split(","))


def report(name, ret):
    err = ctypes.get_errno()
    print(name, "ok" if ret >= 0 else errno.errorcode.get(err, err))


ctypes.set_errno(0)
report("userns", libc.unshare(0x10000000))                      # CLONE_NEWUSER
buf = (ctypes.c_char * 120)()
for name, args in {"io_uring_setup": (8, buf), "add_key": (b"user", b"k", b"v", 1, -4),  # @u
                   "keyctl": (0, -4, 0), "bpf": (0, buf, 48), "perf_event_open": (buf, 0, -1, -1, 0),
                   "ptrace": (16, os.getppid(), 0, 0), "clone3": (buf, 88)}.items():
    ctypes.set_errno(0)
    report(name, libc.syscall(int(nr[name]), *args))
