"""Programs run for real through the local backend (bubblewrap, as root here) and, where an engine
and the images exist, the docker backend: the hostile programs run on both.

Each backend under test gets its own uid range, so "nothing of the run is left" is checked by
looking for any process with one of those uids after every test (the containers' processes are
visible from here too).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from codealchemy.tracer.backends import RunRequest
from codealchemy.tracer.backends.local import LocalBackend
from codealchemy.tracer.limits import Limits

from ..conftest import DOCKER_UID_BASE, DOCKER_UID_SLOTS, need_image, uid_processes

HOSTILE = Path(__file__).parent / "hostile"
UID_BASE, UID_SLOTS = 1_790_000, 8
LIMITS = Limits(timeout=1.5, memory=256 << 20, max_output=1 << 20, max_trace_bytes=1 << 20,
                processes=32, open_files=64)


@pytest.fixture(scope="session")
def backend() -> LocalBackend:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed")
    if os.geteuid() != 0:
        pytest.skip("these checks are written for the root (setpriv) sandbox")
    return LocalBackend(uid=UID_BASE, uids=UID_SLOTS)


@pytest.fixture(autouse=True)
def nothing_left():
    yield
    assert uid_processes(UID_BASE, UID_SLOTS) == [], "processes of the sandbox uid outlived the run"
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


@pytest.fixture(scope="session")
def docker_c_binaries(docker_backend) -> dict[str, bytes]:
    """Every hostile C program, compiled once in the C image (the runs get the binary)."""
    need_image("c")
    out = {}
    for src in sorted(HOSTILE.glob("*.c")):
        req = RunRequest(files={"main.c": src.read_bytes()}, language="c", trace=False,
                         compile=["gcc", "-O1", "-w", "-o", "main", "main.c"],
                         run=["/bin/sh", "-c", "base64 -w0 main"], limits=Limits(timeout=60, max_output=16 << 20))
        got = docker_backend.run(req)
        assert got.compile.ok, (src.name, got.compile.stderr.decode())
        assert got.run.ok, (src.name, got.run)
        out[src.stem] = base64.b64decode(got.run.stdout)
    return out


@pytest.fixture(params=[
    pytest.param(("local", "python"), id="local-python"),
    pytest.param(("local", "c"), id="local-c"),
    pytest.param(("docker", "python"), id="docker-python", marks=pytest.mark.docker),
    pytest.param(("docker", "c"), id="docker-c", marks=pytest.mark.docker),
])
def hostile(request):
    """run(name, env=..., **limit changes) -> RunResult, for the Python or the C version on the
    local or the docker backend; `run.backend` and `run.lang` say which."""
    where, lang = request.param
    if where == "local":
        runner = request.getfixturevalue("backend")
        binaries = request.getfixturevalue("c_binaries") if lang == "c" else None
    else:
        runner = request.getfixturevalue("docker_backend")
        need_image(lang)
        binaries = request.getfixturevalue("docker_c_binaries") if lang == "c" else None

    def run(name: str, env: dict | None = None, **limits):
        lim = LIMITS.merged(limits)
        if lang == "python":
            req = RunRequest(files={"main.py": (HOSTILE / f"{name}.py").read_bytes()},
                             run=["/usr/bin/python3", "main.py"], env=env or {}, limits=lim, language="python")
        else:
            req = RunRequest(files={"main": binaries[name]}, compile=["chmod", "755", "main"],
                             run=["./main"], env=env or {}, limits=lim, language="c")
        return runner.run(req)

    run.backend, run.lang = where, lang
    yield run
    if where == "docker":
        assert uid_processes(DOCKER_UID_BASE, DOCKER_UID_SLOTS) == [], \
            "processes of the docker backend's uids outlived the run"
