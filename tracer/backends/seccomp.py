"""The seccomp filter of a sandboxed program (bubblewrap's --seccomp FD), as nsjail and Judge0
have: kernel interfaces a traced program never needs, and that widen what a hostile one can
reach, fail with EPERM.

Denied: new user namespaces (clone/unshare with CLONE_NEWUSER; clone3, whose flags a filter
cannot read, fails with ENOSYS so that libc falls back to clone), setns, io_uring, the kernel
keyrings (keyctl, add_key, request_key: a uid's keyring would outlive the run and reach the next
run of that uid), bpf, perf_event_open, ptrace and process_vm_readv/writev, pidfd_getfd,
userfaultfd, the mount family, module loading, kexec, reboot, swap, acct, quotactl, syslog,
file handles, iopl/ioperm. Other ABIs of the machine (i386 and x32 on x86-64) get ENOSYS.

The program is classic BPF over struct seccomp_data (nr at 0, arch at 4, args from 16), built
here for x86-64 and AArch64, the architectures the filter knows the syscall numbers of.
"""

from __future__ import annotations

import errno
import platform
import struct

_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
CLONE_NEWUSER = 0x10000000
X32_BIT = 0x40000000

_COMMON = {   # asm-generic numbers (AArch64), then x86-64
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430), "fsconfig": (431, 431),
    "fsmount": (432, 432), "fspick": (433, 433), "pidfd_getfd": (438, 438), "mount_setattr": (442, 442),
    "ptrace": (117, 101), "syslog": (116, 103), "acct": (89, 163), "mount": (40, 165), "umount2": (39, 166),
    "pivot_root": (41, 155), "swapon": (224, 167), "swapoff": (225, 168), "reboot": (142, 169),
    "init_module": (105, 175), "finit_module": (273, 313), "delete_module": (106, 176),
    "quotactl": (60, 179), "kexec_load": (104, 246), "kexec_file_load": (294, 320),
    "add_key": (217, 248), "request_key": (218, 249), "keyctl": (219, 250), "setns": (268, 308),
    "perf_event_open": (241, 298), "bpf": (280, 321), "userfaultfd": (282, 323),
    "process_vm_readv": (270, 310), "process_vm_writev": (271, 311),
    "name_to_handle_at": (264, 303), "open_by_handle_at": (265, 304), "lookup_dcookie": (18, 212),
    "vhangup": (58, 153),
}
#: machine -> (AUDIT_ARCH, {denied name: nr}, clone, unshare, clone3)
ARCHES = {
    "x86_64": (0xC000003E, {**{k: v[1] for k, v in _COMMON.items()}, "iopl": 172, "ioperm": 173}, 56, 272, 435),
    "aarch64": (0xC00000B7, {k: v[0] for k, v in _COMMON.items()}, 220, 97, 435),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter for `machine` (default: this one) as bytes of struct sock_filter; None where
    the syscall numbers are not known here (the sandbox then runs without one; a note says so)."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        return None
    audit, denied, clone, unshare, clone3 = ARCHES[machine]
    checks = [(_JEQ, nr, "eperm") for nr in sorted(denied.values())]   # (jump, k, where to when true)
    checks += [(_JEQ, clone3, "enosys"), (_JEQ, clone, "flags"), (_JEQ, unshare, "flags")]
    if machine == "x86_64":
        checks.insert(0, (_JGE, X32_BIT, "enosys"))
    head = [_op(_LD_ABS_W, 4), _op(_JEQ, audit, 1, 0), _op(_RET, _ERRNO | errno.ENOSYS), _op(_LD_ABS_W, 0)]
    n = len(checks)
    where = {"eperm": n + 1, "enosys": n + 2, "flags": n + 3}   # (n: allow)
    ops = [_op(code, k, where[target] - i - 1, 0) for i, (code, k, target) in enumerate(checks)]
    tail = [_op(_RET, _ALLOW), _op(_RET, _ERRNO | errno.EPERM), _op(_RET, _ERRNO | errno.ENOSYS),
            # flags: clone's and unshare's first argument (its low word) without CLONE_NEWUSER
            _op(_LD_ABS_W, 16), _op(_JSET, CLONE_NEWUSER, 1, 0), _op(_RET, _ALLOW), _op(_RET, _ERRNO | errno.EPERM)]
    return b"".join(head + ops + tail)
