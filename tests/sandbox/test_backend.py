"""The local backend's plumbing: per-run uids, toolchain binds, notes, the opt-out."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from codealchemy.tracer.backends import RunRequest, SandboxError, runfolders
from codealchemy.tracer.backends import local as local_mod
from codealchemy.tracer.backends.local import LocalBackend

from .conftest import HOSTILE, LIMITS, UID_BASE, UID_SLOTS


def test_concurrent_runs_do_not_share_a_process_count(backend):
    """Each run gets its own uid, so RLIMIT_NPROC (and the pids cgroup) count per run."""
    code = (HOSTILE / "forkcount.py").read_bytes()
    req = RunRequest(files={"main.py": code}, run=["/usr/bin/python3", "main.py"],
                     limits=LIMITS.merged({"processes": 12, "timeout": 5}))
    results = [None] * 3
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, backend.run(req))) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = [tuple(map(int, r.run.stdout.split())) for r in results]
    assert all(r.run.status == "ok" for r in results), [r.run for r in results]
    assert len({uid for uid, _ in seen}) == 3, seen
    # alone, a run gets 12 processes less itself (and its setpriv/python); shared, 3 runs would split that
    assert all(8 <= kids < 12 for _, kids in seen), seen


def test_toolchain_under_root_is_bound_read_only(backend):
    cargo = Path("/root/.cargo/bin")
    if not cargo.is_dir():
        pytest.skip("no /root/.cargo here")
    req = RunRequest(files={}, run=["sh", "-c", "ls /root/.cargo; ls -a /root; touch /root/.cargo/x"],
                     env={"PATH": f"{cargo}:/usr/bin:/bin"}, limits=LIMITS)
    result = backend.run(req)
    out = result.run.stdout.decode()
    assert "bin" in out.split() and ".pyenv" not in out, out
    assert result.run.status == "runtime_error"     # read-only
    assert not (cargo.parent / "x").exists()


def test_explicit_binds_and_missing_ones_are_noted(backend):
    req = RunRequest(files={}, run=["sh", "-c", "ls /root"], limits=LIMITS,
                     env={"CODEALCHEMY_BINDS": "/root/.rustup:/root/nonexistent-toolchain"})
    result = backend.run(req)
    assert result.run.status == "ok", result.run
    assert any("/root/nonexistent-toolchain" in n for n in result.notes)
    assert b"CODEALCHEMY_BINDS" not in backend.run(
        RunRequest(files={}, run=["env"], env={"CODEALCHEMY_BINDS": "/root/.rustup"}, limits=LIMITS)).run.stdout


def test_without_bwrap_it_refuses_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(local_mod.shutil, "which", lambda name, **kw: None)
    with pytest.raises(SandboxError, match="apt-get install bubblewrap"):
        LocalBackend()
    assert LocalBackend(sandbox="none").sandbox == "none"


def test_sandbox_none_runs_unwrapped(tmp_path):
    result = LocalBackend(sandbox="none").run(RunRequest(
        files={}, run=["sh", "-c", "echo $HOME; echo t >&$CODEALCHEMY_TRACE_FD; id -u"], limits=LIMITS))
    assert result.run.status == "ok", result.run
    assert result.trace == b"t\n"
    assert result.run.stdout.split()[1] == str(os.geteuid()).encode()


def test_compile_error_and_runtime_error(backend):
    bad = backend.run(RunRequest(files={}, compile=["sh", "-c", "echo nope >&2; exit 1"], run=["true"],
                                 limits=LIMITS))
    assert bad.compile.status == "compile_error" and bad.run is None
    failed = backend.run(RunRequest(files={}, run=["sh", "-c", "exit 3"], limits=LIMITS))
    assert (failed.run.status, failed.run.exit_code) == ("runtime_error", 3)


def test_file_names_cannot_leave_the_work_folder(backend, tmp_path):
    target = tmp_path / "escaped"
    result = backend.run(RunRequest(files={f"../../../../../..{target}": b"x"}, run=["true"], limits=LIMITS))
    assert result.final.status == "sandbox_error"
    assert not target.exists()


def test_only_stdio_and_the_trace_fd_are_inherited(backend):
    leak_r, leak_w = os.pipe()            # an inheritable fd of the host must not reach the program
    os.set_inheritable(leak_w, True)
    try:
        code = "import os; print(*os.listdir('/proc/self/fd'))"
        result = backend.run(RunRequest(files={}, run=["/usr/bin/python3", "-c", code], limits=LIMITS))
    finally:
        os.close(leak_r)
        os.close(leak_w)
    fds = sorted(int(fd) for fd in result.run.stdout.split())
    assert fds[:4] == [0, 1, 2, 3] and len(fds) == 5, fds     # the fifth is listdir's own


def test_spawner_is_replaced_when_it_dies(backend):
    """bubblewrap is started by a spawner living in the uid slot's cgroups; if it dies (even in
    the middle of a run), the run ends cleanly and the next run gets a new one."""
    ok = RunRequest(files={}, run=["true"], limits=LIMITS)
    assert backend.run(ok).run.status == "ok"
    spawners = dict(local_mod._Spawner._mine)
    if not spawners:
        pytest.skip("no spawner here (no writable cgroups)")
    for sp in spawners.values():
        sp.proc.kill()
    assert backend.run(ok).run.status == "ok"
    # killed mid-run: bubblewrap dies with it (--die-with-parent), and so does the sandbox
    killer = threading.Timer(0.5, lambda: [sp.proc.kill() for sp in list(local_mod._Spawner._mine.values())])
    killer.start()
    result = backend.run(RunRequest(files={}, run=["sleep", "30"], limits=LIMITS.merged({"timeout": 5})))
    killer.join()
    assert result.run.status in ("runtime_error", "timeout"), result.run
    assert result.run.wall < 3
    assert backend.run(ok).run.status == "ok"


def test_without_writable_cgroups_rlimits_hold_and_notes_say_so(monkeypatch):
    """Where no cgroup is writable the run goes on under the rlimits alone, with a note."""
    from codealchemy.tracer.backends import cgroups

    note = "no memory cgroup (test): rlimits only"
    monkeypatch.setattr(cgroups, "places", lambda: ({}, [note]))
    monkeypatch.setattr(local_mod, "cgroup_places", lambda: ({}, [note]))
    backend = LocalBackend(uid=UID_BASE, uids=UID_SLOTS)   # (its uids are checked after the test)
    hog = RunRequest(files={"main.py": (HOSTILE / "memhog.py").read_bytes()}, run=["/usr/bin/python3", "main.py"],
                     limits=LIMITS.merged({"timeout": 5.0}), language="python")
    result = backend.run(hog)
    assert result.run.status == "memory_limit", result.run     # MemoryError under RLIMIT_DATA
    assert note in result.notes


def test_cgroups_of_a_dead_owner_are_swept_with_what_is_left_in_them():
    """A sandbox that outlived its killed host process (a fork bomb keeping its uid's process
    count full) is killed by the next backend that looks at the cgroup tree."""
    import subprocess

    from codealchemy.tracer.backends import cgroups

    place = cgroups.places()[0].get("pids")
    if place is None:
        pytest.skip("no writable pids cgroup here")
    dead = subprocess.Popen(["true"])
    dead.wait()   # a pid that no longer runs: the cgroup's owner
    stale = place.parent / f"codealchemy-{dead.pid}-u1799999"
    stale.mkdir()
    left = subprocess.Popen(["sleep", "300"])
    try:
        (stale / "cgroup.procs").write_text(str(left.pid))
        cgroups._sweep(place.parent)
        assert left.wait(timeout=5) == -9
        assert not stale.exists()
    finally:
        left.kill()
        if stale.exists():
            stale.rmdir()


def test_a_missing_toolchain_is_a_sandbox_error_not_the_programs(backend):
    req = RunRequest(files={"main.x": b"x"}, compile=["/bin/sh", "-c", "exec no-such-compiler main.x"],
                     run=["./main"], limits=LIMITS, tools=("sh", "no-such-compiler"))
    got = backend.run(req)
    assert got.compile is None
    assert got.run.status == "sandbox_error"
    assert got.run.reason == "no-such-compiler not installed here (see `trace doctor`)"


def test_a_tree_too_deep_for_rmtree_is_removed_with_its_run_folder(backend):
    """A 5000-deep tree in the work folder made the clean-up raise (RecursionError) and leak the
    run folder, on /dev/shm: RAM until reboot."""
    base = Path(backend._work_base() or tempfile.gettempdir())
    before = set(os.listdir(base))
    req = RunRequest(files={"main.py": (HOSTILE / "deeptree.py").read_bytes()}, run=["/usr/bin/python3", "main.py"],
                     limits=LIMITS.merged({"timeout": 20}))
    result = backend.run(req)
    assert result.run.status == "ok" and result.run.stdout == b"deep\n", result.run
    assert not {n for n in set(os.listdir(base)) - before if n.startswith(f"{runfolders.RUN}{os.getpid()}-")}


def test_run_folders_and_spools_of_dead_owners_are_swept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    mine = runfolders.make(str(tmp_path), runfolders.RUN)
    theirs = [tmp_path / f"{kind}{dead.pid}-x" for kind in (runfolders.RUN, runfolders.SPOOL)]
    for d in theirs:
        (d / "work" / "deep").mkdir(parents=True)
        (d / "work" / "deep" / "f").write_text("x")
    (tmp_path / "codealchemy-run-notapid").mkdir()
    runfolders.sweep(str(tmp_path))
    assert mine.exists() and not any(d.exists() for d in theirs)
    assert (tmp_path / "codealchemy-run-notapid").exists()


def test_a_spool_is_removed_when_its_backend_closes():
    be = LocalBackend(uid=UID_BASE, uids=UID_SLOTS)
    spool = be.servers._spool()
    assert spool.is_dir() and spool.name.startswith(f"{runfolders.SPOOL}{os.getpid()}-")
    be.close()
    assert not spool.exists()


def test_only_the_system_is_visible_not_the_rest_of_the_host(backend):
    """A corpus or a dump outside /root and /home (here a folder at /, and this project) was
    readable by every program: only the system folders are bound now."""
    secret_dir = Path(tempfile.mkdtemp(prefix="codealchemy-secret-", dir="/"))
    try:
        secret = secret_dir / "corpus.py"
        secret.write_text("TOPSECRET")
        secret.chmod(0o644)
        secret_dir.chmod(0o755)
        project = Path(__file__).resolve()
        req = RunRequest(files={"main.py": (HOSTILE / "secrets.py").read_bytes()}, run=["/usr/bin/python3", "main.py"],
                         env={"SECRETS": f"{secret}:{project}:/etc/os-release"}, limits=LIMITS)
        result = backend.run(req)
    finally:
        shutil.rmtree(secret_dir)
    out = result.run.stdout.decode()
    assert result.run.status == "ok", result.run
    assert f"denied {secret}" in out and f"denied {project}" in out, out
    assert "TOPSECRET" not in out
    assert "READ /etc/os-release" in out     # (the system is there)


def test_every_system_folder_is_reachable_by_the_program(backend):
    """The folders leading to a bound one (/var/cache for Go's build cache) must not be bwrap's
    0700 mount-point folders: Go then silently compiled the standard library every run."""
    wanted = [p for p in local_mod.SYSTEM if os.path.isdir(p)]
    code = "import os, sys\nfor p in sys.argv[1:]:\n    print(p, len(os.listdir(p)) > 0)\n"
    ran = backend.run(RunRequest(files={}, run=["/usr/bin/python3", "-c", code, *wanted], limits=LIMITS)).run
    assert ran.status == "ok", ran
    assert ran.stdout.decode().split("\n")[:-1] == [f"{p} True" for p in wanted]
