"""The docker backend for real: these tests need a Docker engine on this machine, root, and the
runtime images (`trace runtimes bootstrap && trace runtimes build`); without them they skip and
say why. CODEALCHEMY_DOCKER_LANGS=python,c,... (or `all`) limits the per-language checks to those
images; the fixture comparison (test_fixtures.py, minutes) runs only when it is set
(scripts/docker.sh test sets it), the hostile programs and backend checks whenever they can.

"Nothing of a run is left" is checked after every test by looking for any process of the
backend's uid range on the host (the containers' processes are visible from here)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from codealchemy.tracer.backends import RunRequest
from codealchemy.tracer.limits import Limits

HOSTILE = Path(__file__).parent.parent / "sandbox" / "hostile"
UID_BASE, UID_SLOTS = 1_880_000, 16
LIMITS = Limits(timeout=1.5, memory=256 << 20, max_output=1 << 20, max_trace_bytes=1 << 20,
                processes=32, open_files=64)


def _engine_problem() -> str | None:
    try:
        import docker  # noqa: F401
    except ImportError:
        return "the docker SDK is not installed (pip install 'codealchemy[docker]')"
    if os.geteuid() != 0:
        return "the docker backend needs root"
    from codealchemy.tracer import images

    try:
        images.client()
    except RuntimeError as e:
        return str(e)
    return None


PROBLEM = _engine_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"no Docker engine: {PROBLEM}")


def wanted(lang: str) -> bool:
    only = os.environ.get("CODEALCHEMY_DOCKER_LANGS")
    return not only or only == "all" or lang in only.split(",")


def need_image(lang: str) -> None:
    """Skip unless the image of `lang` is built (and wanted)."""
    if PROBLEM is not None:
        pytest.skip(f"no Docker engine: {PROBLEM}")
    if not wanted(lang):
        pytest.skip(f"{lang} not in CODEALCHEMY_DOCKER_LANGS")
    from codealchemy.tracer import images

    try:
        images.client().images.get(images.tag(lang))
    except Exception:
        pytest.skip(f"image {images.tag(lang)} is not built (trace runtimes build {lang})")


def uid_processes(base: int = UID_BASE, count: int = UID_SLOTS) -> list[str]:
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
def backend():
    if PROBLEM is not None:
        pytest.skip(f"no Docker engine: {PROBLEM}")
    from codealchemy.tracer.backends.docker import DockerBackend

    b = DockerBackend(uid=UID_BASE, uids=UID_SLOTS)
    yield b
    b.close()


@pytest.fixture(autouse=True)
def nothing_left():
    yield
    if PROBLEM is None:
        assert uid_processes() == [], "processes of the docker backend's uids outlived the run"


@pytest.fixture(scope="session")
def c_binaries(backend) -> dict[str, bytes]:
    """Every hostile C program, compiled once in the C image (the runs get the binary)."""
    need_image("c")
    out = {}
    for src in sorted(HOSTILE.glob("*.c")):
        req = RunRequest(files={"main.c": src.read_bytes()}, language="c", trace=False,
                         compile=["gcc", "-O1", "-w", "-o", "main", "main.c"],
                         run=["/bin/sh", "-c", "base64 -w0 main"], limits=Limits(timeout=60, max_output=16 << 20))
        got = backend.run(req)
        assert got.compile.ok, (src.name, got.compile.stderr.decode())
        assert got.run.ok, (src.name, got.run)
        out[src.stem] = base64.b64decode(got.run.stdout)
    return out


@pytest.fixture(params=["python", "c"])
def hostile(request, backend):
    """run(name, env=..., **limit changes) -> RunResult, for the Python or the C version."""
    lang = request.param
    need_image(lang)
    binaries = request.getfixturevalue("c_binaries") if lang == "c" else None

    def run(name: str, env: dict | None = None, **limits):
        lim = LIMITS.merged(limits)
        if lang == "python":
            req = RunRequest(files={"main.py": (HOSTILE / f"{name}.py").read_bytes()},
                             run=["/usr/bin/python3", "main.py"], env=env or {}, limits=lim, language="python")
        else:
            req = RunRequest(files={"main": binaries[name]}, compile=["chmod", "755", "main"],
                             run=["./main"], env=env or {}, limits=lim, language="c")
        return backend.run(req)

    run.lang = lang
    return run
