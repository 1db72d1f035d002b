"""What a hostile program can do inside a sandbox, on the local backend and (where an engine and
the images exist) the docker backend: the same statuses and limits on both, nothing that
outlives the run or escapes it."""

from __future__ import annotations

import os
import resource
import socket
import uuid
from pathlib import Path

from .conftest import LIMITS


def test_no_network(hostile):
    """Neither a TCP listener on the host's 127.0.0.1 nor a world-writable unix socket under /run
    (where host daemons keep theirs) can be reached."""
    sock_path = f"/run/codealchemy-test-{uuid.uuid4().hex[:12]}.sock"
    with socket.socket() as listener, socket.socket(socket.AF_UNIX) as unix:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        unix.bind(sock_path)
        os.chmod(sock_path, 0o777)
        unix.listen(8)
        unix.setblocking(False)
        try:
            result = hostile("net", env={"PORT": str(listener.getsockname()[1]), "SOCK": sock_path})
        finally:
            os.unlink(sock_path)
        assert result.run.status == "ok", result.run
        assert b"blocked tcp" in result.run.stdout and b"blocked unix" in result.run.stdout
        assert b"CONNECTED" not in result.run.stdout
        for server in (listener, unix):
            try:
                conn, _ = server.accept()
            except BlockingIOError:
                conn = None
            assert conn is None, "a listener on the host saw a connection"


def test_writes_stay_inside(hostile):
    marker = f"codealchemy-escape-{uuid.uuid4().hex}"
    result = hostile("writes", env={"MARKER": marker})
    assert result.run.status == "ok", result.run
    out = result.run.stdout.decode()
    for d in ("/etc", "/root", "/usr"):
        assert f"denied {d}" in out
    for d in ("/var/tmp", "/tmp", "/etc", "/root", "/usr", os.path.expanduser("~"), "/work"):
        assert not (Path(d) / marker).exists(), f"{d}/{marker} appeared on the host"


def test_files_of_a_run_are_gone_before_the_next(hostile):
    """/tmp, /var/tmp, /dev/shm and /work are emptied between runs (of the same container)."""
    marker = f"codealchemy-left-{uuid.uuid4().hex}"
    hostile("writes", env={"MARKER": marker})
    again = hostile("writes", env={"MARKER": marker})
    assert again.run.status == "ok", again.run


def test_fork_bomb_is_contained(hostile):
    """RLIMIT_NPROC of the run's own uid (and its pids cgroup) stop it; the kill takes the rest
    (checked after every test: no process of the backend's uids is left)."""
    result = hostile("forkbomb", timeout=1.0)
    assert result.run.status in ("timeout", "runtime_error"), result.run
    assert result.run.wall < 1.0 + 2


def test_memory_hog(hostile):
    # a roomy timeout: on a saturated machine the hog may take seconds to reach the limit; in a
    # container, whose cgroup also holds the agent and the run's files, page cache is reclaimed
    # for a while before the OOM kill
    timeout = 5.0 if hostile.backend == "local" else 4.0
    result = hostile("memhog", timeout=timeout)
    assert result.run.status == "memory_limit", result.run
    assert result.run.wall < timeout + 2


def test_cpu_spin_times_out(hostile):
    result = hostile("spin")
    assert result.run.status == "timeout", result.run
    assert LIMITS.timeout <= result.run.wall < LIMITS.timeout + 2
    if hostile.backend == "docker":
        assert result.run.stack is None     # (no py-spy in the docker backend: a note says so)
        if hostile.lang == "python":
            assert any("py-spy" in n for n in result.notes)
    elif hostile.lang == "python":
        assert result.run.stack and "spin" in result.run.stack, result.run.stack


def test_sleep_times_out(hostile):
    result = hostile("sleep")
    assert result.run.status == "timeout", result.run
    assert LIMITS.timeout <= result.run.wall < LIMITS.timeout + 2
    if hostile.lang == "python" and hostile.backend == "local":
        assert result.run.stack and "wait_forever" in result.run.stack, result.run.stack
    else:
        assert result.run.stack is None


def test_stdout_flood(hostile):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = hostile("flood")
    assert result.run.status == "output_limit", result.run
    assert len(result.run.stdout) == LIMITS.max_output    # cut at the cap, not before
    assert result.run.wall < LIMITS.timeout + 2
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kib < 64 * 1024, f"host peak memory grew by {grown_kib} KiB"


def test_setsid_grandchild_is_gone(hostile):
    result = hostile("setsid")
    assert result.run.status == "ok", result.run
    assert b"parent done" in result.run.stdout
    # checked after every test: no process of the backend's uids is left (the grandchild slept 1000 s)


def test_trace_flood_is_capped(hostile):
    result = hostile("tracewrites", timeout=2.0)
    assert result.run.status == "output_limit", result.run
    assert len(result.trace) <= LIMITS.max_trace_bytes
    assert result.trace_truncated


def test_secrets_unreadable(hostile):
    secret_root = Path("/root") / f"codealchemy-secret-{uuid.uuid4().hex}"
    secret_run = Path("/run") / f"codealchemy-secret-{uuid.uuid4().hex}"
    paths = [secret_root, secret_run, Path("/etc/shadow")]
    if hostile.backend == "docker":
        paths.append(Path("/run/codealchemy/ctl"))   # the container agent's requests
    try:
        for p in (secret_root, secret_run):
            p.write_text("TOPSECRET")
            p.chmod(0o600)
        result = hostile("secrets", env={"SECRETS": ":".join(map(str, paths))})
    finally:
        secret_root.unlink(missing_ok=True)
        secret_run.unlink(missing_ok=True)
    out = result.run.stdout.decode()
    assert "READ" not in out and "TOPSECRET" not in out
    for p in paths:
        assert f"denied {p}" in out
    if hostile.backend == "local":   # (in an image, /root is root's: the run cannot list it)
        assert result.run.status == "ok", result.run
        assert "root has []" in out or "root has 0 entries" in out
