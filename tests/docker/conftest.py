"""The docker backend for real: these tests need a Docker engine on this machine, root, and the
runtime images (`trace runtimes bootstrap && trace runtimes build`); without them they skip and
say why. CODEALCHEMY_DOCKER_LANGS=python,c,... (or `all`) limits the per-language checks to those
images; the fixture comparison (test_fixtures.py, minutes) runs only when it is set
(scripts/docker.sh test sets it), the backend checks whenever they can. The hostile programs run
on this backend too, in tests/sandbox (marker `docker`).

"Nothing of a run is left" is checked after every test by looking for any process of the
backend's uid range on the host (the containers' processes are visible from here)."""

from __future__ import annotations

import pytest

from ..conftest import DOCKER_UID_BASE, DOCKER_UID_SLOTS, docker_problem, uid_processes


@pytest.fixture(scope="session")
def backend(docker_backend):
    """The session's docker backend (tests/sandbox's `backend` is the local one)."""
    return docker_backend


@pytest.fixture(autouse=True)
def nothing_left():
    yield
    if docker_problem() is None:
        assert uid_processes(DOCKER_UID_BASE, DOCKER_UID_SLOTS) == [], \
            "processes of the docker backend's uids outlived the run"
