"""Hostile programs run for real through LocalBackend (bubblewrap, as root here).

The backend under test gets its own uid range, so "nothing of the run is left" is checked by
looking for any process with one of those uids after every test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from codealchemy.tracer.backends import RunRequest
from codealchemy.tracer.backends.local import LocalBackend
from codealchemy.tracer.limits import Limits

HOSTILE = Path(__file__).parent / "hostile"
UID_BASE, UID_SLOTS = 1_790_000, 8
LIMITS = Limits(timeout=1.5, memory=256 << 20, max_output=1 << 20, max_trace_bytes=1 << 20,
                processes=32, open_files=64)

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def uid_processes(base: int = UID_BASE, count: int = UID_SLOTS) -> list[str]:
    """Processes (pid and name) whose real or effective uid is in the test range."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids = [int(u) for u in fields.get("Uid", "").split()]
        if any(base <= u < base + count for u in uids):
            found.append(f"{entry} {fields.get('Name', '').strip()}")
    return found


@pytest.fixture(scope="session")
def backend() -> LocalBackend:
    if os.geteuid() != 0:
        pytest.skip("these checks are written for the root (setpriv) sandbox")
    return LocalBackend(uid=UID_BASE, uids=UID_SLOTS)


@pytest.fixture(autouse=True)
def nothing_left():
    yield
    assert uid_processes() == [], "processes of the sandbox uid outlived the run"
    left = [p.name for p in Path("/sys/fs/cgroup/pids").glob(f"codealchemy-{os.getpid()}-*")
            if p.name.rsplit("-", 1)[1].isdigit()]   # (-u<uid>: a uid slot's, kept for the session)
    assert left == [], "run cgroups were not removed"


@pytest.fixture(scope="session")
def c_binaries(tmp_path_factory) -> dict[str, bytes]:
    """Every hostile C program, compiled once on the host (the sandbox gets the binary)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    out = tmp_path_factory.mktemp("hostile-c")
    procs = {src.stem: subprocess.Popen(["gcc", "-O1", "-w", "-o", str(out / src.stem), str(src)])
             for src in sorted(HOSTILE.glob("*.c"))}
    for name, proc in procs.items():
        assert proc.wait() == 0, f"gcc failed on {name}.c"
    return {name: (out / name).read_bytes() for name in procs}


@pytest.fixture(params=["python", "c"])
def hostile(request, backend, c_binaries):
    """run(name, env=..., **limit changes) -> RunResult, for the Python or the C version."""
    lang = request.param

    def run(name: str, env: dict | None = None, **limits):
        lim = LIMITS.merged(limits)
        if lang == "python":
            req = RunRequest(files={"main.py": (HOSTILE / f"{name}.py").read_bytes()},
                             run=["/usr/bin/python3", "main.py"], env=env or {}, limits=lim,
                             language="python")
        else:
            req = RunRequest(files={"main": c_binaries[name]}, compile=["chmod", "755", "main"],
                             run=["./main"], env=env or {}, limits=lim, language="c")
        return backend.run(req)

    run.lang = lang
    return run
