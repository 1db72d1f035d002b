"""Statuses come from facts (the program's real wait status, the cgroup's OOM counters), never
from what a program or a compiler happens to print."""

from __future__ import annotations

import shutil

import pytest

from codealchemy.tracer.backends import RunRequest

from .conftest import HOSTILE, LIMITS


def python(backend, code: str, **limits):
    return backend.run(RunRequest(files={"main.py": code.encode()}, run=["/usr/bin/python3", "main.py"],
                                  limits=LIMITS.merged(limits), language="python")).run


@pytest.mark.parametrize("code", [129, 137, 152, 153, 192])
def test_exit_codes_above_128_are_exit_codes_not_signals(backend, code):
    """bubblewrap reports a child killed by signal N as exit 128+N: `exit 152` is not SIGXCPU."""
    ran = python(backend, f"import sys\nsys.exit({code})\n")
    assert (ran.status, ran.exit_code, ran.signal) == ("runtime_error", code, None), ran
    assert ran.reason == f"exit code {code}"


def test_a_real_signal_is_a_signal(backend):
    ran = python(backend, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    assert (ran.status, ran.exit_code, ran.signal) == ("runtime_error", None, 11), ran


def test_printing_out_of_memory_is_not_a_memory_limit(backend):
    ran = python(backend, "import sys\nprint('warning: out of memory soon; MemoryError ahead', file=sys.stderr)\n"
                          "sys.exit(3)\n")
    assert (ran.status, ran.exit_code) == ("runtime_error", 3), ran


def test_a_compile_error_that_echoes_out_of_memory_is_a_compile_error(backend):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    src = b'#include <stdio.h>\nint main(void) { puts("out of memory: MemoryError, std::bad_alloc") }\n'
    got = backend.run(RunRequest(files={"main.c": src}, compile=["gcc", "-o", "main", "main.c"], run=["./main"],
                                 limits=LIMITS, language="c"))
    assert got.compile.status == "compile_error", got.compile
    assert b"out of memory" in got.compile.stderr


def test_an_allocation_the_data_limit_refuses_is_a_memory_limit(backend):
    """Python's MemoryError when RLIMIT_DATA refuses an allocation (no OOM kill: nothing was
    touched) is the memory limit at work: the runtime's own death line says so."""
    ran = python(backend, "x = bytearray(1 << 40)\n")
    assert ran.status == "memory_limit", ran


def test_filling_the_work_folder_is_a_memory_limit_and_spares_the_spawner(backend):
    """The work folder is charged to the run's memory cgroup, where the slot's spawner lives too:
    the OOM killer must take the program, never the spawner (that was a runtime_error)."""
    code = (HOSTILE / "fillwork.py").read_bytes()
    for _ in range(2):   # the second run finds its slot's spawner alive
        ran = python(backend, code.decode(), memory=96 << 20, timeout=10)
        assert ran.status == "memory_limit", ran
