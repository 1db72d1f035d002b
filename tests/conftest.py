"""Plumbing shared by tests/sandbox and tests/docker: the hostile programs run on both backends,
so the docker engine check, the one docker backend of a session and the check that nothing of a
run is left live here.

Marker `docker`: the test runs on the docker backend (`scripts/docker.sh test` selects them)."""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pytest

DOCKER_UID_BASE, DOCKER_UID_SLOTS = 1_880_000, 16


def pytest_configure(config):
    config.addinivalue_line("markers", "docker: runs on the docker backend (scripts/docker.sh test selects these)")
    # the response cache of the whole run is its own, never the user's ~/.cache (tests/evals
    # gives each test one of its own on top)
    if "CODEALCHEMY_CACHE" not in os.environ:
        os.environ["CODEALCHEMY_CACHE"] = tempfile.mkdtemp(prefix="codealchemy-test-cache-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop("CODEALCHEMY_CACHE"), ignore_errors=True))


def uid_processes(base: int, count: int) -> list[str]:
    """Processes (pid and name) whose real or effective uid is in [base, base + count)."""
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


@cache
def docker_problem() -> str | None:
    """Why the docker backend cannot run here, or None (asked once: it connects to the engine)."""
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


def docker_wanted(lang: str) -> bool:
    only = os.environ.get("CODEALCHEMY_DOCKER_LANGS")
    return not only or only == "all" or lang in only.split(",")


def need_image(lang: str) -> None:
    """Skip unless there is an engine and the image of `lang` is built (and wanted)."""
    if docker_problem() is not None:
        pytest.skip(f"no Docker engine: {docker_problem()}")
    if not docker_wanted(lang):
        pytest.skip(f"{lang} not in CODEALCHEMY_DOCKER_LANGS")
    from codealchemy.tracer import images

    try:
        images.client().images.get(images.tag(lang))
    except Exception:
        pytest.skip(f"image {images.tag(lang)} is not built (trace runtimes build {lang})")


@pytest.fixture(scope="session")
def docker_backend():
    if docker_problem() is not None:
        pytest.skip(f"no Docker engine: {docker_problem()}")
    from codealchemy.tracer.backends.docker import DockerBackend

    b = DockerBackend(uid=DOCKER_UID_BASE, uids=DOCKER_UID_SLOTS)
    yield b
    b.close()
