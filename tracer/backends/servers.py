"""Compile servers: one warm compiler per language and backend, instead of one per file.

javac spends most of a small compile starting and warming its JVM (~0.9 s of ~1 s); a JVM
that stays up compiles the same file in ~0.1 s. A runtime names such a server in runtime.toml
`[compile_server]`: `command` starts it ({socket}, {root} and {dir}, the runtime folder, are
filled in) and `serves` names the compiler executable it stands in for. A request is the run
folder (relative to {root}) and the compiler's arguments, each ending in NUL, sent before the
client shuts its side down; the answer is a line with the exit code and, optionally, how many
of the following bytes are stdout's, then the output (the rest is stderr's).

The server runs in its own sandbox (no network, read-only root, its own uid, the same rlimits
machinery as a run) whose only writable place is the backend's spool: the folder that holds the
run folders while a server is up. In the compile phase a stand-in executable of that name comes
first on PATH; it sends its run folder and arguments over the server's socket and prints the
answer as the compiler would. If the server cannot answer, the stand-in runs the real compiler,
so a dead or killed server costs time, never a result. A server starts at a language's second
compile (one file alone is faster with the plain compiler), is restarted when it died and is
killed when a compile phase timed out, since it may still be busy with that program.
"""

from __future__ import annotations

import atexit
import os
import select
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import drain, runfolders

START_AFTER = 2        # compiles of a language before its server starts
READY_TIMEOUT = 60.0   # seconds a server may take to say "ready"
MAX_FAILED_STARTS = 3  # then the language compiles without a server for the backend's life

#: The stand-in for the served compiler (Python, run by the system's python3 in the sandbox).
STAND_IN = r'''#!{python} -IS
import os, socket, sys

args = sys.argv[1:]
try:
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["CODEALCHEMY_COMPILE_SOCKET"])
    fields = [os.environ["CODEALCHEMY_COMPILE_DIR"], *args]
    s.sendall("".join(f + "\0" for f in fields).encode("utf-8", "surrogateescape"))
    s.shutdown(socket.SHUT_WR)
    answer = b"".join(iter(lambda: s.recv(65536), b""))
    head, sep, text = answer.partition(b"\n")
    code, *out = map(int, head.split())   # the exit code, then how many bytes are stdout's
    if not sep:
        raise ValueError("incomplete answer")
except (OSError, KeyError, ValueError):   # no server: the compiler itself, as if we were not here
    here = os.path.dirname(os.path.abspath(__file__))
    for d in os.environ.get("PATH", "").split(":"):
        real = os.path.join(d, {name!r})
        if d and os.path.abspath(d) != here and os.access(real, os.X_OK):
            os.execv(real, [real, *args])
    sys.exit("{name}: not found")
sys.stdout.buffer.write(text[:out[0] if out else 0])
sys.stdout.flush()
sys.stderr.buffer.write(text[out[0] if out else 0:])
sys.exit(code)
'''


@dataclass(frozen=True)
class ServerSpec:
    """runtime.toml [compile_server] of one language."""

    language: str
    serves: str
    command: tuple[str, ...]
    dir: str           # the runtime folder (bound read-only into the server's sandbox)

    @classmethod
    def from_toml(cls, language: str, table: dict | None, folder: Path) -> ServerSpec | None:
        if not table:
            return None
        return cls(language, table["serves"], tuple(table["command"]), str(folder))


class Server:
    """A started server: its sandbox (a local backend's `_Spawned`), uid slot and socket."""

    def __init__(self, spec: ServerSpec, home: Path, spawned, slot):
        self.spec, self.home, self.spawned, self.slot = spec, home, spawned, slot
        self.spool = home.parent
        self.started = time.monotonic()   # when it said "ready"
        self.pid = os.getpid()

    def served(self) -> int:
        """Compiles answered since the last call (its stdout has a line per compile)."""
        if self.spawned is None or self.pid != os.getpid():
            return 0
        drain(self.spawned.err)
        return drain(self.spawned.out).count(b"served\n")

    def alive(self) -> bool:
        if self.spawned is None or self.pid != os.getpid():
            return False
        try:
            done, _ = os.waitpid(self.spawned.pid, os.WNOHANG)
        except ChildProcessError:
            done = 1
        if done:
            self.spawned.close()
            self._release()
        return self.spawned is not None

    def stop(self) -> None:
        if self.spawned is None or self.pid != os.getpid():
            return
        self.spawned.kill()
        self.spawned.wait()
        self.spawned.wait_inner()   # until the kernel has killed everything in its namespace
        self.spawned.close()
        self._release()

    def _release(self) -> None:
        if self.slot is not None:
            self.slot.release()
        self.spawned = None


class Pool:
    """The servers of one backend and the spool their run folders live in."""

    def __init__(self, start, work_base: str | None):
        self._start = start          # (spec, spool, home, env) -> Server | str (why not)
        self._work_base = work_base
        self.python = shutil.which("python3", path="/usr/bin:/bin")
        self.spool: Path | None = None
        self.servers: dict[str, Server] = {}
        self.compiles: Counter = Counter()
        self.served: Counter = Counter()   # compiles the servers answered (see tally)
        self.failed: Counter = Counter()
        self.pid = os.getpid()
        self._lock = threading.Lock()   # a backend may serve several threads
        atexit.register(self.close)

    def server(self, spec: ServerSpec | None, env: dict[str, str], notes: list[str]) -> Server | None:
        """The running server for `spec`, started if it is time; None: compile without one."""
        if spec is None or self.python is None or self.pid != os.getpid():
            return None
        with self._lock:
            return self._server(spec, env, notes)

    def _server(self, spec: ServerSpec, env: dict[str, str], notes: list[str]) -> Server | None:
        self.compiles[spec.language] += 1
        current = self.servers.get(spec.language)
        if current is not None:
            self.served[spec.language] += current.served()
            if current.alive():
                return current
        if self.compiles[spec.language] < START_AFTER or self.failed[spec.language] >= MAX_FAILED_STARTS:
            return None
        home = self._spool() / f".server-{spec.language}"
        shutil.rmtree(home, ignore_errors=True)
        (home / "bin").mkdir(parents=True)
        stand_in = home / "bin" / spec.serves
        stand_in.write_text(STAND_IN.replace("{python}", self.python).replace("{name!r}", repr(spec.serves))
                            .replace("{name}", spec.serves))
        stand_in.chmod(0o755)
        started = self._start(spec, self.spool, home, env)
        if isinstance(started, str):
            self.failed[spec.language] += 1
            notes.append(f"compile server for {spec.language} did not start ({started}); compiled without it")
            return None
        self.servers[spec.language] = started
        return started

    def tally(self) -> Counter:
        """Compiles each language's servers answered so far."""
        with self._lock:
            for language, server in self.servers.items():
                self.served[language] += server.served()
            return Counter(self.served)

    def kill(self, language: str) -> None:
        with self._lock:
            server = self.servers.pop(language, None)
        if server is not None:
            self.served[language] += server.served()
            server.stop()

    def run_folder(self) -> Path:
        """A new run folder in the spool (the caller removes it: runfolders.remove)."""
        return runfolders.make(str(self._spool()), runfolders.RUN)

    def _spool(self) -> Path:
        if self.spool is None:
            self.spool = runfolders.make(self._work_base, runfolders.SPOOL)
            self.spool.chmod(0o711)
        return self.spool

    def close(self) -> None:
        if self.pid != os.getpid():
            return
        for language in list(self.servers):
            self.kill(language)
        if self.spool is not None:
            runfolders.remove(self.spool)
            self.spool = None


def wait_ready(fd: int, timeout: float = READY_TIMEOUT) -> str | None:
    """Read the server's stdout until its "ready" line; None when it came, else why not."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"ready\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return f"no ready line in {timeout:.0f} s"
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not chunk:
            return "it exited"
        buf += chunk
    return None
