"""The docker backend's own behaviour: statuses, warm containers and their isolation flags,
clean-up of stale containers."""

from __future__ import annotations

import os

import pytest

from codealchemy.tracer.backends import RunRequest
from codealchemy.tracer.backends.docker import LABEL, OWNER_LABEL, remove_stale
from codealchemy.tracer.limits import Limits

from ..conftest import need_image

pytestmark = pytest.mark.docker


def py(code: str, **kw) -> RunRequest:
    return RunRequest(files={"main.py": code.encode()}, run=["/usr/bin/python3", "main.py"], language="python",
                      limits=Limits(timeout=5), **kw)


def test_ok_output_trace_and_environment(backend):
    need_image("python")
    code = ("import os, sys\nprint(os.getcwd(), os.environ['HOME'], sorted(os.listdir('.')))\n"
            "os.write(3, b'T1')\nprint(sorted(os.listdir('/proc/self/fd')), file=sys.stderr)\n")
    got = backend.run(py(code))
    assert got.run.status == "ok", got.run
    assert got.run.stdout == b"/work /work ['main.py']\n"
    assert got.trace == b"T1"
    assert got.run.stderr == b"['0', '1', '2', '3', '4']\n"   # 4: listdir's own fd


def test_untraced_run_has_no_fd_3(backend):
    need_image("python")
    got = backend.run(py("import os\nprint(sorted(os.listdir('/proc/self/fd')))", trace=False))
    assert got.run.stdout == b"['0', '1', '2', '3']\n"   # 3: listdir's own fd
    assert got.trace == b""


def test_runtime_error_and_exit_code(backend):
    need_image("python")
    got = backend.run(py("import sys\nprint('x')\nsys.exit(3)"))
    assert (got.run.status, got.run.exit_code, got.run.stdout) == ("runtime_error", 3, b"x\n")
    got = backend.run(py("raise ValueError('boom')"))
    assert got.run.status == "runtime_error" and b"ValueError: boom" in got.run.stderr


def test_compile_error(backend):
    need_image("c")
    got = backend.run(RunRequest(files={"main.c": b"int main( {"}, compile=["gcc", "-o", "main", "main.c"],
                                 run=["./main"], language="c"))
    assert got.compile.status == "compile_error" and got.run is None
    assert b"error" in got.compile.stderr


def test_file_names_cannot_leave_the_work_folder(backend):
    need_image("python")
    got = backend.run(RunRequest(files={"../escape.py": b"x"}, run=["true"], language="python"))
    assert got.final.status == "sandbox_error"


def test_missing_image_is_a_sandbox_error(backend):
    got = backend.run(RunRequest(files={}, run=["true"], language="no-such-language"))
    assert got.final.status == "sandbox_error" and "trace runtimes build" in got.final.reason


def test_container_is_reused_and_locked_down(backend):
    need_image("python")
    first = backend.run(py("print(open('/etc/hostname').read())"))
    second = backend.run(py("print(open('/etc/hostname').read())"))
    assert first.run.stdout == second.run.stdout, "a new container for each run"
    mine = [c for c in backend.client.containers.list(filters={"label": LABEL})
            if c.labels[OWNER_LABEL].split(":")[1] == str(os.getpid())]
    assert mine
    for c in mine:
        host = c.attrs["HostConfig"]
        assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"]
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
        assert host["PidsLimit"] and host["Memory"] and host["NanoCpus"]


def test_stale_containers_are_removed(backend):
    need_image("python")
    from codealchemy.tracer import images

    c = backend.client.containers.run(images.tag("python"), ["sleep", "60"], detach=True, network_mode="none",
                                      labels={LABEL: "docker", OWNER_LABEL: f"{backend.host}:999999999:0"})
    try:
        assert c.name in remove_stale(backend.client, backend.host)
    finally:
        try:
            c.remove(force=True)
        except Exception:
            pass


def test_containers_go_when_their_owner_is_killed(backend):
    """The agent exits when its owner's end of the ctl FIFO closes; the container (--rm) goes."""
    need_image("python")
    import subprocess
    import sys
    import time

    code = ("import os, signal\nfrom codealchemy.tracer.backends import RunRequest\n"
            "from codealchemy.tracer.backends.docker import DockerBackend\n"
            "r = DockerBackend().run(RunRequest(files={}, run=['true'], language='python'))\n"
            "print(r.run.status, os.getpid(), flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.split()
    assert out[0] == "ok"

    def theirs():
        return [c for c in backend.client.containers.list(all=True, filters={"label": LABEL})
                if c.labels[OWNER_LABEL].split(":")[1] == out[1]]

    deadline = time.monotonic() + 20
    while theirs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert theirs() == []


@pytest.mark.parametrize(("code", "sig"), [(129, 1), (143, 15), (152, 11)])
def test_exit_codes_above_128_are_exit_codes_and_a_signal_is_a_signal(backend, code, sig):
    """bash reads a child killed by signal N as 128+N; the reaper's wait status tells them apart."""
    ran = backend.run(py(f"import sys\nsys.exit({code})\n")).run
    assert (ran.status, ran.exit_code, ran.signal) == ("runtime_error", code, None), ran
    ran = backend.run(py(f"import os\nos.kill(os.getpid(), {sig})\n")).run
    assert (ran.status, ran.exit_code, ran.signal) == ("runtime_error", None, sig), ran
