"""The seccomp filter: its syscall numbers against the kernel's own headers, and what a program
in the sandbox can no longer reach."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest

from codealchemy.tracer.backends import RunRequest, seccomp

from .conftest import HOSTILE, LIMITS

HEADERS = {"x86_64": "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
           "aarch64": "/usr/include/asm-generic/unistd.h"}   # AArch64 uses the generic table


def kernel_numbers(machine: str) -> dict[str, int]:
    path = Path(HEADERS[machine])
    if not path.exists():
        pytest.skip(f"{path} not installed (linux-libc-dev)")
    return {m[1]: int(m[2]) for m in re.finditer(r"^#define __NR_(\w+)\s+(\d+)\s*$", path.read_text(), re.M)}


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHES))
def test_syscall_numbers_are_the_kernels(machine):
    _, denied, clone, unshare, clone3 = seccomp.ARCHES[machine]
    nr = kernel_numbers(machine)
    assert {**denied, "clone": clone, "unshare": unshare, "clone3": clone3} == \
        {name: nr[name] for name in [*denied, "clone", "unshare", "clone3"]}


def test_the_program_is_whole_instructions_with_jumps_inside_it():
    prog = seccomp.program("x86_64")
    assert len(prog) % 8 == 0
    ops = [prog[i:i + 8] for i in range(0, len(prog), 8)]
    for i, op in enumerate(ops):
        code, jt, jf = op[0] | op[1] << 8, op[2], op[3]
        if code & 0x07 == 0x05:   # a jump
            assert i + 1 + max(jt, jf) < len(ops)
    assert seccomp.program("sparc") is None


def test_kernel_interfaces_are_denied_in_the_sandbox(backend):
    machine = platform.machine()
    if machine not in seccomp.ARCHES:
        pytest.skip(f"no filter for {machine}")
    nr = kernel_numbers(machine)
    names = ["io_uring_setup", "add_key", "keyctl", "bpf", "perf_event_open", "ptrace", "clone3"]
    req = RunRequest(files={"main.py": (HOSTILE / "kernel.py").read_bytes()}, run=["/usr/bin/python3", "main.py"],
                     env={"NR": ",".join(f"{n}={nr[n]}" for n in names)}, limits=LIMITS)
    ran = backend.run(req).run
    assert ran.status == "ok", ran
    got = dict(line.split() for line in ran.stdout.decode().splitlines())
    assert got == {"userns": "EPERM", "io_uring_setup": "EPERM", "add_key": "EPERM", "keyctl": "EPERM",
                   "bpf": "EPERM", "perf_event_open": "EPERM", "ptrace": "EPERM", "clone3": "ENOSYS"}, got


def test_threads_and_subprocesses_still_work(backend):
    """clone3 fails with ENOSYS: libc falls back to clone for threads and processes."""
    code = ("import subprocess, threading\nt = threading.Thread(target=print, args=('thread',))\nt.start(); t.join()\n"
            "print(subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout.strip())\n")
    ran = backend.run(RunRequest(files={"main.py": code.encode()}, run=["/usr/bin/python3", "main.py"],
                                 limits=LIMITS)).run
    assert (ran.status, ran.stdout) == ("ok", b"thread\nchild\n"), ran
