"""Execution backends: where and how an instrumented program is compiled and run.

A backend takes a `RunRequest` (files, compile and run argv, environment, limits) and
returns a `RunResult`; it never raises for anything the program does. Backends register
through the `register_backends` hook.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..limits import Limits

if TYPE_CHECKING:
    from .servers import ServerSpec

#: The fd number the trace channel has inside the sandbox (see wire.py).
TRACE_FD = 3

#: How runtimes die when the data-size limit (RLIMIT_DATA) refuses an allocation: whole stderr
#: lines, as the runtime itself writes them (a line that merely mentions memory is not one).
#: Only a run phase's stderr counts: a compiler echoes source lines in its errors.
OOM_DEATH = re.compile(
    r"^(MemoryError\b"                                                   # Python's uncaught exception
    r"|terminate called after throwing an instance of '(std::)?bad_alloc'"  # C++
    r"|memory allocation of \d+ bytes failed"                           # Rust
    r"|fatal error: runtime: (out of memory|cannot allocate memory)"     # Go
    r"|Exception in thread \S+ java\.lang\.OutOfMemoryError\b"          # Java
    r"|(Unhandled Exception:\s*)?System\.OutOfMemoryException\b"         # C#
    r"|FATAL ERROR: .*JavaScript heap out of memory"                    # Node
    r"|.*failed to allocate memory \(NoMemoryError\)"                   # Ruby
    r"|(PHP )?Fatal error: +(Allowed memory size of \d+ bytes exhausted|Out of memory)\b"
    r")", re.M)


class SandboxError(RuntimeError):
    """The sandbox itself cannot run (missing bubblewrap, no permission): not the program's fault."""


@dataclass
class RunRequest:
    files: dict[str, bytes]
    run: list[str]
    compile: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    trace: bool = True          # open the trace channel on TRACE_FD for the run phase
    language: str = ""          # lets a backend pick per-language tools (a py-spy dump on timeout)
    compile_server: ServerSpec | None = None   # a warm compiler the backend may use (servers.py)
    tools: tuple[str, ...] = ()  # executables the phases need (runtime.toml [toolchain] commands)


@dataclass
class PhaseResult:
    status: str                 # one of records.RUN_STATUSES
    exit_code: int | None = None
    signal: int | None = None
    wall: float = 0.0
    cpu: float = 0.0
    stdout: bytes = b""
    stderr: bytes = b""
    reason: str | None = None
    stack: str | None = None    # where a timed-out program was stuck, where the backend can tell

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class RunResult:
    compile: PhaseResult | None
    run: PhaseResult | None
    trace: bytes = b""
    trace_truncated: bool = False
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)   # seconds outside the phases (a server start)

    @property
    def final(self) -> PhaseResult:
        return self.run if self.run is not None else self.compile


class Backend(Protocol):
    name: str

    def run(self, request: RunRequest) -> RunResult: ...


def classify(exit_code: int | None, sig: int | None, stderr: bytes, *, timed_out: bool,
             output_over: bool, oom_killed: bool = False, compiling: bool = False,
             cpu_out: bool = False) -> tuple[str, str | None]:
    """(status, reason) of a finished phase from facts: how it ended (`exit_code` and `sig` from
    the real wait status), the kernel's OOM kills in its cgroup, and in a run phase a runtime's
    own out-of-memory death line (OOM_DEATH); `cpu_out`: the run's processes together used the
    timeout in CPU time. Shared by every backend."""
    if output_over:
        return "output_limit", "output exceeded --max-output"
    if cpu_out:
        return "timeout", "CPU-time limit reached (all processes of the run together)"
    if timed_out:
        return "timeout", "wall-clock limit reached"
    failed = sig is not None or bool(exit_code)
    if oom_killed:
        return "memory_limit", "memory limit reached (OOM kill)"
    if failed and not compiling and OOM_DEATH.search(stderr.decode("utf-8", "replace")):
        return "memory_limit", "memory limit reached (an allocation was refused)"
    if sig == 24:  # SIGXCPU
        return "timeout", "CPU-time limit reached"
    if sig == 25:  # SIGXFSZ
        return "output_limit", "file-size limit reached"
    if sig is not None:
        return "runtime_error", f"killed by signal {sig}"
    if exit_code:
        return "runtime_error", f"exit code {exit_code}"
    return "ok", None


def drain(fd: int, cap: int = 65536) -> bytes:
    """What a non-blocking fd holds now, up to `cap` bytes."""
    out = b""
    try:
        while len(out) < cap and (chunk := os.read(fd, cap - len(out))):
            out += chunk
    except BlockingIOError:
        pass
    return out
