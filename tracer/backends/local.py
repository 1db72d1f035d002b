"""The `local` backend: each phase runs inside bubblewrap on this machine.

The program sees the host's system folders read-only (SYSTEM: /usr, /etc, /lib..., not the rest
of /, where corpora and dumps lie), a private writable /work (its files), private /tmp, /var/tmp
and /dev/shm, empty /root, /home and /run (no host daemon sockets), no network, a seccomp filter
(seccomp.py: no user namespaces, io_uring, keyrings, bpf, ptrace, mounts...), and a new PID
namespace: killing the namespace's init kills every process the program started, even ones that
called setsid. Its parent in there is a small reaper (REAPER) that reports its real wait status,
which bubblewrap's exit code cannot tell from an exit code above 128. For the OOM killer the
program comes first and the host's helpers (the spawner, bubblewrap) never.

It runs as an unprivileged uid. As root, bubblewrap sets up the mounts and `setpriv` drops to a
uid taken from a range, one per concurrent run (a lock file per uid, held for the run, so
processes of a pool never share a uid): RLIMIT_NPROC counts per uid and is ignored for root,
so a per-run uid is what makes the process limit hold and keeps runs from starving each other.
As a normal user, a user namespace maps the uid instead (then RLIMIT_NPROC counts the user's
own processes too; the notes say so).

bubblewrap is started with posix_spawn (no Python fork) and holds the sandbox before it runs
anything of the program (--block-fd); meanwhile the host sets the rlimits on the sandbox's init
(CPU time, data size: RLIMIT_DATA, not RLIMIT_AS, as the JVM and WebAssembly reserve address
space; file size, which also caps the trace channel; open files; processes) and moves it into
memory and pids cgroups of the run where the cgroup tree is writable (see cgroups.py). With a
memory cgroup, RLIMIT_DATA is twice the limit (the cgroup bounds what is resident and its OOM
kill is reported as memory_limit); without one it is the limit itself. The run folder then
lives on /dev/shm, so what the program writes to /work is charged to its memory cgroup too.
Moving a process into a cgroup costs the kernel an RCU grace period (a few ms of latency, no
CPU) unless it runs with cgroup_favordynmods=true (boot) or favordynmods (v2 mount option), so
each uid slot has cgroups that live as long as this process and a small spawner process in
them that starts bubblewrap: its children are born in the slot's cgroups, and each run only
sets the limits and reads the counters (OOM kills, CPU time) from where they were. Where it
cannot start, the sandbox's init is moved into per-run cgroups instead.

A timeout, output over the cap, or the program's exit ends the phase with SIGKILL to the
namespace's init (and to bubblewrap), then waits until that init is gone: by then the kernel
has killed and reaped everything in the namespace. A Python program that times out first gets
a `py-spy dump` of its stack (PhaseResult.stack). The trace channel is an unnamed file on disk
passed as fd 3 and capped by RLIMIT_FSIZE; output pipes are read at most up to the cap.

Toolchains under /root or /home (rustup, pyenv, a user's Go) are hidden by the sandbox; a run
gets them bound read-only at the same path: a PATH entry of the run's environment under /root
or /home binds its top folder (/root/.cargo/bin binds /root/.cargo), and CODEALCHEMY_BINDS (a
runtime.toml [env] entry, colon-separated; not passed on to the program) or a `binds`
attribute of the request names further paths (e.g. /root/.rustup for RUSTUP_HOME).
"""

from __future__ import annotations

import array
import atexit
import errno
import fcntl
import functools
import json
import os
import random
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..limits import Limits
from . import TRACE_FD, PhaseResult, RunRequest, RunResult, SandboxError, classify, drain, runfolders, seccomp, servers
from .cgroups import RunCgroups
from .cgroups import places as cgroup_places

#: First uid of the range the sandboxed programs run as (one uid per concurrent run).
SANDBOX_UID = 1_700_000
UID_SLOTS = 256
BWRAP_HINT = "bubblewrap is not installed: run `apt-get install bubblewrap` (or pass --sandbox none for trusted code)"
PATH = "/usr/local/bin:/usr/local/go/bin:/usr/bin:/bin"
HIDDEN = ("/root", "/home")          # tmpfs in the sandbox; toolchains there are bound back
BINDS_ENV = "CODEALCHEMY_BINDS"
INFO_FD, BLOCK_FD = 4, 5             # bwrap's --info-fd / --block-fd inside the spawned bwrap
STATUS_FD = 6                        # where the reaper writes the program's wait status
SECCOMP_FD = 7                       # bwrap's --seccomp: the filter of seccomp.py
SECCOMP = seccomp.program()
#: What of the host's file tree a run sees, read-only: the system and the toolchains' caches,
#: not the rest of / (where corpora, dumps and the project lie); toolchains elsewhere are bound
#: by name (see the module docstring).
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys",
          "/var/cache/codealchemy", "/var/lib/gems")
#: The program's parent inside the sandbox: it writes the program's real wait status to
#: STATUS_FD (closed in the program). bubblewrap reports a child killed by signal N as exit
#: 128+N, so `exit 152` and SIGXCPU look alike from outside; perl is in every Debian system.
REAPER = (r'open(S, ">&=6") or exit 126; my $p = fork; defined $p or die "fork: $!\n";'
          r' if (!$p) { close S; exec {$ARGV[0]} @ARGV; print STDERR "$ARGV[0]: $!\n"; exit 127 }'
          r' waitpid($p, 0); syswrite S, "$?\n"; exit($? & 127 ? 128 + ($? & 127) : $? >> 8)')
SETUP_TIMEOUT = 10.0                 # seconds bwrap may take to set the sandbox up
PY_SPY_BUDGET = 1.0                  # seconds of py-spy dumps on a Python timeout, all told
CPU_CHECK = 0.25                     # seconds between reads of the run's CPU time (its cgroup)
SPOOL = "/run/spool"   # where a compile server sees the run folders (/run is a tmpfs there)
SERVER_HOME = "/run/compile-server"   # where a compile phase sees the server's socket and stand-in
#: Where a compile server sees its runtime folder: bwrap makes the folders leading to a mount
#: point root's and 0700, so a folder bound at its own path under /tmp or /root is out of reach.
SERVER_RUNTIME = "/run/runtime"
#: A compile server's sandbox: it lives for the backend's life and holds a JVM's threads and files.
SERVER_LIMITS = Limits(timeout=1e6, memory=2 << 30, processes=256, open_files=4096)


class LocalBackend:
    name = "local"

    def __init__(self, sandbox: str = "bwrap", uid: int = SANDBOX_UID, uids: int = UID_SLOTS,
                 cgroups: bool = True, compile_servers: bool = True):
        if sandbox not in ("bwrap", "none"):
            raise ValueError(f"unknown sandbox {sandbox!r} (bwrap or none)")
        self.bwrap = shutil.which("bwrap")
        if sandbox == "bwrap" and self.bwrap is None:
            raise SandboxError(BWRAP_HINT)
        self.sandbox = sandbox
        self.uid, self.uids = uid, uids
        self.as_root = os.geteuid() == 0
        self.cgroups = cgroups and sandbox == "bwrap"
        self.setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        if sandbox == "bwrap" and self.as_root and not os.path.exists(self.setpriv):
            raise SandboxError("setpriv is not installed: run `apt-get install util-linux`")
        self.py_spy = shutil.which("py-spy") or _beside_python("py-spy")
        self.perl = shutil.which("perl", path="/usr/bin:/bin")
        self.servers = (servers.Pool(self._start_server, self._work_base())
                        if compile_servers and sandbox == "bwrap" else None)
        if sandbox == "bwrap":
            _sweep_folders(self._work_base())

    def close(self) -> None:
        """Stop the compile servers and remove their spool (also done at exit)."""
        if self.servers:
            self.servers.close()

    # --- the sandbox command line ----------------------------------------------------------

    def _box(self, argv: list[str], work: Path, uid: int, limits, binds: list[str], at: str = "/work",
             reap: bool = True) -> list[str]:
        """bwrap's command line; `reap`: under the REAPER (where perl is), which reports the
        program's wait status on STATUS_FD."""
        if reap and self.perl:
            argv = [self.perl, "-e", REAPER, "--", *argv]
        tmp = str(max(limits.memory, 1 << 20))
        box = [self.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session",
               *_system(), "--proc", "/proc", "--dev", "/dev",
               "--perms", "1777", "--size", tmp, "--tmpfs", "/tmp",
               "--perms", "1777", "--size", tmp, "--tmpfs", "/var/tmp",
               "--perms", "1777", "--size", tmp, "--tmpfs", "/dev/shm",
               # /run holds host daemons' sockets (docker, databases): a read-only mount does not stop
               # connect() on a socket file, so it goes, like /root and /home
               "--size", "1048576", "--tmpfs", "/run",
               "--size", "1048576", "--tmpfs", "/root", "--size", "1048576", "--tmpfs", "/home"]
        for path in binds:   # a path, or (host path, path inside)
            src, dest = path if isinstance(path, tuple) else (path, path)
            box += ["--ro-bind-try", src, dest]
        box += ["--bind", str(work), at, "--chdir", at,
                "--info-fd", str(INFO_FD), "--block-fd", str(BLOCK_FD)]
        if SECCOMP is not None:
            box += ["--seccomp", str(SECCOMP_FD)]
        if self.as_root:
            return box + ["--cap-add", "CAP_SETUID,CAP_SETGID", "--", self.setpriv,
                          f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                          "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *argv]
        return box[:1] + ["--unshare-user", "--uid", str(uid), "--gid", str(uid)] + box[1:] + ["--", *argv]

    # --- one phase -------------------------------------------------------------------------

    def _phase(self, argv: list[str], work: Path, env: dict[str, str], limits, uid: int,
               binds: list[str], notes: list[str], trace_fd: int | None = None,
               language: str = "", compiling: bool = False) -> PhaseResult:
        started = time.monotonic()
        spawner, cg = self._cgroups(uid, limits, notes)
        try:
            if self.sandbox == "none":
                spawned = _spawn_plain(argv, work, env, limits, trace_fd)
            else:
                box = self._box(argv, work, uid, limits, binds)
                for _ in range(3):
                    data = limits.memory * 2 if cg is not None and cg.limits_memory else limits.memory
                    try:
                        spawned = _spawn_bwrap(box, env, limits, data, trace_fd, cg, spawner)
                        break
                    except _SpawnerGone:   # it died since the last run: a new one (or none)
                        spawner, cg = self._cgroups(uid, limits, notes)
                else:
                    spawned = PhaseResult("sandbox_error", reason="the spawner process keeps dying")
            if isinstance(spawned, PhaseResult):
                return spawned
            result = self._watch(spawned, started, limits, cg, language, compiling)
            if result.status == "timeout" and language == "python" and result.stack is None:
                notes.append("no py-spy stack: " + ("py-spy is not installed (pip install py-spy)"
                                                    if not self.py_spy else "py-spy could not dump it"))
            return result
        finally:
            if spawner is not None:
                if cg.pids():     # only the spawner may stay
                    cg.kill()
            elif cg is not None:
                cg.close()
            if cg is not None:
                notes.extend(n for n in cg.notes if n not in notes)

    def _cgroups(self, uid: int, limits, notes: list[str]) -> tuple[_Spawner | None, RunCgroups | None]:
        """The spawner of the uid slot and its cgroups, set for this run; else per-run cgroups."""
        if not self.cgroups:
            return None, None
        spawner = _Spawner.get(uid, notes)
        if spawner is None:
            return None, RunCgroups.create(limits.memory, limits.processes + 2)
        spawner.cg.begin(limits.memory, limits.processes + 3)   # + the spawner, bwrap and its init
        return spawner, spawner.cg

    def _watch(self, sp: _Spawned, started: float, limits, cg: RunCgroups | None,
               language: str, compiling: bool = False) -> PhaseResult:
        stdout, stderr = bytearray(), bytearray()
        bufs = {sp.out: stdout, sp.err: stderr}
        ep = select.epoll()
        pidfd = os.dup(sp.pidfd) if sp.pidfd is not None else os.pidfd_open(sp.pid)
        for fd in (sp.out, sp.err, pidfd):
            ep.register(fd, select.EPOLLIN)
        live, exited = {sp.out, sp.err}, False
        deadline = started + limits.timeout
        linger = None   # after the exit: how long to wait for output still in the pipes
        timed_out = output_over = cpu_out = False
        cap = limits.max_output
        # the timeout counts CPU time too, of every process of the run together (RLIMIT_CPU is
        # per process: 60 spinning children would each get the whole timeout)
        cpu_check = started + CPU_CHECK if cg is not None and cg.cpu_seconds() is not None else None
        try:
            while live or not exited:
                now = time.monotonic()
                if linger is not None and now >= linger:
                    break       # exited; whatever still holds the pipes is killed below
                left = deadline - now
                if left <= 0:
                    timed_out = True
                    break
                if cpu_check is not None and now >= cpu_check:
                    if cg.cpu_seconds() >= limits.timeout:
                        timed_out = cpu_out = True
                        break
                    cpu_check = now + CPU_CHECK
                wait = left if linger is None else min(left, linger - now)
                for fd, _ in ep.poll(wait if cpu_check is None else min(wait, max(cpu_check - now, 0.0))):
                    if fd == pidfd:
                        exited = True
                        linger = time.monotonic() + 0.5
                        ep.unregister(pidfd)
                        continue
                    buf = bufs[fd]
                    room = cap - len(buf)
                    try:
                        chunk = os.read(fd, min(65536, room + 1))
                    except BlockingIOError:
                        continue
                    if not chunk:
                        ep.unregister(fd)
                        live.discard(fd)
                    elif len(chunk) > room:
                        buf += chunk[:room]
                        output_over = True
                    else:
                        buf += chunk
                if output_over:
                    break
            stack = None
            if timed_out and language == "python" and sp.inner is not None:
                stack = self._stack(sp.inner)
            sp.kill()
            status, usage = sp.wait()
            real = sp.real_status()
            sp.wait_inner()
            if cg is not None and cg.pids():
                cg.kill()
        finally:
            ep.close()
            os.close(pidfd)
            sp.close()
        oom = cg is not None and cg.oom_killed()
        cpu = cg.cpu_seconds() if cg is not None else None
        if cpu is None:   # bwrap does not reap its init, so wait4 sees little of the run's CPU time
            cpu = usage.ru_utime + usage.ru_stime if usage is not None else 0.0
        exit_code, sig = _decode(status, self.sandbox != "none") if real is None else _decode(real, False)
        if timed_out and exit_code is not None and sig is None:
            exit_code = None
        state, reason = classify(exit_code, sig, stderr, timed_out=timed_out,
                                 output_over=output_over, oom_killed=oom, compiling=compiling, cpu_out=cpu_out)
        return PhaseResult(state, exit_code=exit_code, signal=sig, wall=time.monotonic() - started,
                           cpu=cpu, stdout=bytes(stdout),
                           stderr=bytes(stderr), reason=reason, stack=stack)

    def _stack(self, init_pid: int) -> str | None:
        """A py-spy dump of the (stuck) Python processes below the sandbox's init, before the kill."""
        if not self.py_spy:
            return None
        dumps = []
        give_up = time.monotonic() + PY_SPY_BUDGET
        for _ in range(3):   # stop the whole tree first: a fork bomb or spinning workers would
            for pid in _descendants(init_pid):   # starve py-spy (and the stack is a still picture)
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass
        for pid in _descendants(init_pid):   # parents first: the program's main process leads
            try:
                exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            except OSError:
                continue
            if not exe.startswith("python"):
                continue
            left = give_up - time.monotonic()
            if left <= 0.05:
                break
            try:
                done = subprocess.run([self.py_spy, "dump", "--nonblocking", "--pid", str(pid)], capture_output=True,
                                      timeout=left, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0 and done.stdout.strip():
                dumps.append(done.stdout.decode("utf-8", "replace").strip())
            if len(dumps) >= 2:
                break
        return "\n\n".join(dumps) or None

    # --- compile servers (servers.py) -------------------------------------------------------

    def _start_server(self, spec: servers.ServerSpec, spool: Path, home: Path,
                      env: dict[str, str]) -> servers.Server | str:
        """Start `spec`'s server in its own sandbox, with the spool as its only writable folder."""
        slot = _Slot.acquire(self.uid, self.uids) if self.as_root else None
        uid = slot.uid if slot else self.uid
        if self.as_root:
            os.chown(home, uid, uid)   # where it makes its socket
        argv = [a.replace("{socket}", f"{SPOOL}/{home.name}/socket").replace("{root}", SPOOL)
                .replace("{dir}", SERVER_RUNTIME) for a in spec.command]
        binds = [*_binds(env, (), []), (spec.dir, SERVER_RUNTIME)]
        env = {k: v for k, v in env.items() if k != BINDS_ENV and not k.startswith("CODEALCHEMY_MAX")}
        box = self._box(argv, spool, uid, SERVER_LIMITS, binds, at=SPOOL, reap=False)
        spawned = _spawn_bwrap(box, {**env, "HOME": "/tmp"}, SERVER_LIMITS, SERVER_LIMITS.memory, None, None)
        if isinstance(spawned, PhaseResult):
            if slot:
                slot.release()
            return spawned.reason
        why = servers.wait_ready(spawned.out)
        server = servers.Server(spec, home, spawned, slot)   # (its start time: now, when it is ready)
        if why is None:
            return server
        err = drain(spawned.err).decode("utf-8", "replace").strip()
        server.stop()
        return why + (f": {err[-300:]}" if err else "")

    # --- a request -------------------------------------------------------------------------

    def _work_base(self) -> str | None:
        """Where run folders go: /dev/shm when the run has a memory cgroup (what the program
        writes to /work is then charged to it, so it cannot fill the host's disk), else the
        temp dir (on disk, where RLIMIT_FSIZE bounds each file)."""
        if self.sandbox != "bwrap" or not self.cgroups or "memory" not in cgroup_places()[0]:
            return None
        try:
            st = os.statvfs("/dev/shm")
        except OSError:
            return None
        if st.f_flag & (os.ST_NOEXEC | os.ST_RDONLY) or not os.access("/dev/shm", os.W_OK | os.X_OK):
            return None
        return "/dev/shm"

    def run(self, request: RunRequest) -> RunResult:
        notes: list[str] = []
        if self.sandbox == "bwrap" and not self.as_root:
            notes.append("not root: the process limit counts the invoking user's processes too")
        slot = (_Slot.acquire(self.uid, self.uids, prefer=_Spawner.uids() if self.cgroups else ())
                if self.sandbox == "bwrap" and self.as_root else None)
        uid = slot.uid if slot else self.uid
        try:
            return self._run(request, uid, notes)
        finally:
            if slot:
                slot.release()

    def _run(self, request: RunRequest, uid: int, notes: list[str]) -> RunResult:
        limits = request.limits
        env = {"PATH": PATH, "HOME": "/work", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
               **request.env}
        env = {str(k): str(v) for k, v in env.items()}   # (a TOML value may be a number)
        missing = [t for t in request.tools if shutil.which(t, path=env.get("PATH", PATH)) is None]
        if missing:   # not the program's fault: say so instead of a compile error of /bin/sh
            why = f"{', '.join(missing)} not installed here (see `trace doctor`)"
            return RunResult(None, PhaseResult("sandbox_error", reason=why), notes=notes)
        timings: dict[str, float] = {}
        server = None
        if self.servers and request.compile:
            started = time.monotonic()
            server = self.servers.server(request.compile_server, env, notes)
            if server and server.started >= started:
                timings["compile_server_start"] = round(server.started - started, 6)
        root = self.servers.run_folder() if server else runfolders.make(self._work_base(), runfolders.RUN)
        try:   # (whatever the program left in it and however the host side fails)
            os.chmod(root, 0o711)
            work = root / "work"
            work.mkdir()
            for name, data in request.files.items():
                path = Path(os.path.normpath(work / name))
                if work not in path.parents:
                    bad = PhaseResult("sandbox_error", reason=f"file name {name!r} leaves the work folder")
                    return RunResult(None, bad, notes=notes, timings=timings)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            if self.as_root and self.sandbox == "bwrap":
                for dirpath, _dirs, filenames in os.walk(work):
                    os.chown(dirpath, uid, uid)
                    for f in filenames:
                        os.chown(os.path.join(dirpath, f), uid, uid)
            binds = _binds(env, getattr(request, "binds", None) or (), notes)
            env.pop(BINDS_ENV, None)
            if self.sandbox == "none":   # /work is where the files are inside the sandbox
                env = {k: ":".join(str(work) + e[5:] if e == "/work" or e.startswith("/work/") else e
                                   for e in v.split(":")) for k, v in env.items()}
            compiled = None
            if request.compile:
                compile_env, compile_binds = env, binds
                if server:   # the server (another uid) writes the compiler's output into /work
                    os.chmod(work, 0o777)
                    compile_env = {**env, "PATH": f"{SERVER_HOME}/bin:{env.get('PATH', PATH)}",
                                   "CODEALCHEMY_COMPILE_SOCKET": f"{SERVER_HOME}/socket",
                                   "CODEALCHEMY_COMPILE_DIR": str(work.relative_to(server.spool))}
                    compile_binds = [*binds, (str(server.home), SERVER_HOME)]
                compiled = self._phase(request.compile, work, compile_env, limits.compiling(), uid, compile_binds,
                                       notes, compiling=True)
                if server and compiled.status == "timeout":   # it may still be compiling that program
                    self.servers.kill(server.spec.language)
                if compiled.status == "runtime_error":
                    compiled.status = "compile_error"
                if not compiled.ok:
                    return RunResult(compiled, None, notes=notes, timings=timings)
            # the trace goes to an unnamed file on disk (never /dev/shm: it is ours, not the program's)
            with tempfile.TemporaryFile(prefix="codealchemy-trace-") as fh:
                if request.trace:
                    env = {**env, "CODEALCHEMY_TRACE_FD": str(TRACE_FD)}
                ran = self._phase(request.run, work, env, limits, uid, binds, notes,
                                  trace_fd=fh.fileno() if request.trace else None,
                                  language=request.language)
                size = os.fstat(fh.fileno()).st_size
                fh.seek(0)
                trace = fh.read(limits.max_trace_bytes)
            if size >= limits.max_trace_bytes and ran.status == "runtime_error":
                # Python ignores SIGXFSZ, so a full trace channel is an EFBIG error, not a signal
                ran.status, ran.reason = "output_limit", "trace exceeded max_trace_bytes (file-size limit)"
            return RunResult(compiled, ran, trace=trace, timings=timings,
                             trace_truncated=size > len(trace) or size >= limits.max_trace_bytes,
                             notes=notes)
        finally:
            why = runfolders.remove(root)
            if why:
                notes.append(why)


# --- uids: one per concurrent run, across processes ---------------------------------------------

@functools.cache
def _sweep_folders(base: str | None) -> None:
    """Once per process: the run folders and spools of dead owners go (runfolders.sweep)."""
    runfolders.sweep(base)


@functools.cache
def _lock_dir() -> Path:
    for base in (Path("/run/lock"), Path(tempfile.gettempdir())):
        d = base / "codealchemy-uids"
        try:
            d.mkdir(mode=0o700, exist_ok=True)
            if os.access(d, os.W_OK):
                return d
        except OSError:
            continue
    raise SandboxError("no writable folder for the uid lock files (/run/lock or the temp dir)")


class _Slot:
    """A uid held for one run: an flock on a lock file per uid (released when the holder dies)."""

    _held: set[int] = set()
    _mutex = threading.Lock()

    def __init__(self, uid: int, fd: int):
        self.uid, self.fd = uid, fd

    @classmethod
    def acquire(cls, base: int, count: int, prefer=(), wait: float = 120.0) -> _Slot:
        """A free uid of base .. base+count-1; first those in `prefer` (uids this process has a
        spawner for), then from a random place (so processes rarely try the same ones)."""
        d = _lock_dir()
        start = random.randrange(count)
        give_up = time.monotonic() + wait
        while True:
            order = [u for u in prefer if base <= u < base + count]
            order += [base + (start + i) % count for i in range(count)]
            for uid in order:
                with cls._mutex:
                    if uid in cls._held:
                        continue
                    fd = os.open(d / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError as e:
                        os.close(fd)
                        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                            continue
                        raise SandboxError(f"cannot lock {d / f'{uid}.lock'}: {e.strerror}") from None
                    cls._held.add(uid)
                    return cls(uid, fd)
            if time.monotonic() > give_up:
                raise SandboxError(f"all {count} sandbox uids from {base} are busy")
            time.sleep(0.05)

    def release(self) -> None:
        with self._mutex:
            os.close(self.fd)
            self._held.discard(self.uid)


# --- spawning ------------------------------------------------------------------------------------

class _Spawned:
    """A started phase: the pid we wait for, its output pipes, and the sandbox's init (if any)."""

    def __init__(self, pid: int, out: int, err: int, inner: int | None = None,
                 inner_fd: int | None = None, group: bool = False, pidfd: int | None = None,
                 spawner: _Spawner | None = None, status: int | None = None):
        self.pid, self.out, self.err, self.inner, self.inner_fd, self.group = pid, out, err, inner, inner_fd, group
        self.pidfd, self.spawner = pidfd, spawner   # bwrap started by a spawner: not our child
        self.status = status   # the reaper's STATUS_FD (read end)

    def real_status(self) -> int | None:
        """The program's wait status as its reaper saw it (None: it did not say; killed, say)."""
        if self.status is None:
            return None
        text = drain(self.status, 64).strip()
        return int(text) if text.isdigit() else None

    def kill(self) -> None:
        for fd in (self.inner_fd, self.pidfd):   # the sandbox's init: the kernel kills its namespace
            if fd is not None:
                try:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.pidfd is not None:
            return
        try:
            if self.group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self) -> tuple[int, resource.struct_rusage | None]:
        """Reap bubblewrap (or have the spawner report it): (wait status, rusage or None)."""
        if self.spawner is None:
            _, status, usage = os.wait4(self.pid, 0)
            return status, usage
        return self.spawner.wait(self.pid), None

    def wait_inner(self, timeout: float = 5.0) -> None:
        """Wait until the sandbox's init has exited: by then the kernel has killed and reaped every
        process of its PID namespace (bwrap's monitor does not wait for that)."""
        if self.inner_fd is not None:
            select.select([self.inner_fd], [], [], timeout)

    def close(self) -> None:
        for fd in (self.out, self.err, self.inner_fd, self.pidfd, self.status):
            if fd is not None:
                os.close(fd)
        self.out = self.err = self.inner_fd = self.pidfd = self.status = None


SIGDEF = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM)   # Python ignores the first two

#: The spawner's boot line (python -I -S -c BOOT FD codealchemy-spawner): its program comes over
#: the socket once it is in the slot's cgroups.
SPAWNER_BOOT = "import socket,sys;s=socket.socket(fileno=int(sys.argv[1]));exec(s.recv(1<<20))"
#: The spawner's program: start bubblewrap on request, report its pidfd and, later, its exit.
SPAWNER = r"""
import array, ctypes, fcntl, json, os, select, signal, socket
os.set_inheritable(s.fileno(), False)
try:   # the sandbox's init outlives bubblewrap by a moment: reap it here, not in the host's init
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
except Exception:
    pass
wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)
dfl = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM)
kids, done = {}, {}
poll = select.poll()
poll.register(s.fileno(), select.POLLIN)
poll.register(wake_r, select.POLLIN)
def send(obj, fds=()):
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    s.sendmsg([json.dumps(obj).encode()], anc)
def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in kids.values():
            done[pid] = status
while True:
    for fd, _ in poll.poll():
        if fd == wake_r:
            try:
                os.read(wake_r, 512)
            except BlockingIOError:
                pass
            reap()
            continue
        if fd != s.fileno():
            pid = kids.pop(fd)
            poll.unregister(fd)
            os.close(fd)
            status = done.pop(pid) if pid in done else os.waitpid(pid, 0)[1]
            send({"exit": pid, "status": status})
            continue
        msg, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(16 * 4), socket.MSG_CMSG_CLOEXEC)
        if not msg:
            os._exit(0)
        got = array.array("i")
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                got.frombytes(data[: len(data) - len(data) % 4])
        high = [fcntl.fcntl(f, fcntl.F_DUPFD_CLOEXEC, 10) for f in got]
        for f in got:
            os.close(f)
        req = json.loads(msg)
        acts = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
        acts += [(os.POSIX_SPAWN_DUP2, f, t) for f, t in zip(high, req["targets"])]
        try:
            pid = os.posix_spawn(req["argv"][0], req["argv"], req["env"], file_actions=acts,
                                 setsid=True, setsigmask=(), setsigdef=dfl)
            pidfd = os.pidfd_open(pid)
        except Exception as e:
            send({"error": str(e)})
        else:
            kids[pidfd] = pid
            poll.register(pidfd, select.POLLIN)
            send({"pid": pid}, [pidfd])
        for f in high:
            os.close(f)
"""


class _SpawnerGone(OSError):
    pass


class _Spawner:
    """A small process living in a uid slot's cgroups that starts bubblewrap for runs of that uid.

    A process born in a cgroup is in it for free, while moving one in waits for an RCU grace
    period (a few ms a run); so each uid slot this process uses gets one spawner, moved into the
    slot's cgroups once, and bubblewrap is started by it. Slots are sticky per process (see
    _Slot.acquire), so a worker keeps one or two. The spawner exits when this process closes its
    socket or dies (bubblewrap's --die-with-parent then takes the sandbox down)."""

    _mine: dict[int, _Spawner] = {}
    _owner = os.getpid()
    _mutex = threading.Lock()
    _broken = False

    def __init__(self, uid: int):
        self.uid = uid
        self.cg = RunCgroups.slot(f"codealchemy-{os.getpid()}-u{uid}")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", SPAWNER_BOOT, str(theirs.fileno()),
                                          "codealchemy-spawner"],
                                         pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True, cwd="/")
        finally:
            theirs.close()
        self.sock = ours
        _oom_score(self.proc.pid, -1000)   # the OOM killer takes the program, never the spawner
        self.cg.add(self.proc.pid)   # before it starts anything
        self.cg.keep = frozenset({self.proc.pid})
        ours.send(SPAWNER.encode())
        self.exits: dict[int, int] = {}

    @classmethod
    def _registry(cls) -> dict[int, _Spawner]:
        if cls._owner != os.getpid():     # a forked child: the parent's spawners are not ours
            for sp in cls._mine.values():
                sp.sock.close()
            cls._mine, cls._owner = {}, os.getpid()
        return cls._mine

    @classmethod
    def uids(cls) -> list[int]:
        with cls._mutex:
            return list(cls._registry())

    @classmethod
    def get(cls, uid: int, notes: list[str]) -> _Spawner | None:
        """The spawner of `uid` (held by the caller), started if needed; None: spawn directly."""
        if cls._broken or not cgroup_places()[0]:
            return None
        with cls._mutex:
            sp = cls._registry().get(uid)
            if sp is not None and sp.proc.poll() is None:
                return sp
            if not cls._mine:
                atexit.register(cls.close_all)
            try:
                sp = cls._mine[uid] = cls(uid)
            except OSError as e:
                cls._broken = True
                notes.append(f"no spawner process ({e}): bubblewrap moved into cgroups run by run")
                return None
            return sp

    def spawn(self, argv: list[str], env: dict[str, str], fds: list[int], targets: list[int]) -> tuple[int, int]:
        """Start argv with fds[i] as fd targets[i]: (pid, pidfd)."""
        try:
            try:
                self.sock.sendmsg([json.dumps({"argv": argv, "env": env, "targets": targets}).encode()],
                                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            except (BrokenPipeError, ConnectionResetError) as e:
                raise _SpawnerGone(str(e)) from None
            while True:
                msg, got = self._recv(SETUP_TIMEOUT)
                if "exit" in msg:
                    self.exits[msg["exit"]] = msg["status"]
                elif "error" in msg:
                    raise OSError(msg["error"])
                else:
                    return msg["pid"], got[0]
        except _SpawnerGone:
            self._drop()
            raise

    def wait(self, pid: int) -> int:
        """The wait status of bubblewrap `pid` (already killed or exited)."""
        try:
            while pid not in self.exits:
                msg, _ = self._recv(SETUP_TIMEOUT)
                if "exit" in msg:
                    self.exits[msg["exit"]] = msg["status"]
        except _SpawnerGone:   # killed with its children (an OOM kill in the slot's cgroup, say)
            self._drop()
            return signal.SIGKILL
        return self.exits.pop(pid)

    def _recv(self, timeout: float) -> tuple[dict, list[int]]:
        if not select.select([self.sock], [], [], timeout)[0]:
            raise _SpawnerGone("the spawner does not answer")
        try:
            msg, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(4 * 4), socket.MSG_CMSG_CLOEXEC)
        except (ConnectionResetError, BrokenPipeError) as e:
            raise _SpawnerGone(str(e)) from None
        fds = array.array("i")
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % 4])
        if not msg:
            raise _SpawnerGone("the spawner exited")
        return json.loads(msg), list(fds)

    def _drop(self) -> None:
        with self._mutex:
            if self._registry().get(self.uid) is self:
                del self._mine[self.uid]
        self.close()

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.cg.keep = frozenset()
        self.cg.close()

    @classmethod
    def close_all(cls) -> None:
        with cls._mutex:
            mine, cls._mine = (cls._mine if cls._owner == os.getpid() else {}), {}
        for sp in mine.values():
            sp.close()


def _high(fd: int) -> int:
    """A close-on-exec copy of `fd` numbered 10 or more (so it never collides with 0-5)."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


def _pipe() -> tuple[int, int]:
    r, w = os.pipe()
    return _high(r), _high(w)


def _spawn_bwrap(argv: list[str], env: dict[str, str], limits, data: int, trace_fd: int | None,
                 cg: RunCgroups | None, spawner: _Spawner | None = None) -> _Spawned | PhaseResult:
    out_r, out_w = _pipe()
    err_r, err_w = _pipe()
    info_r, info_w = _pipe()
    block_r, block_w = _pipe()
    status_r, status_w = _pipe() if REAPER in argv else (None, None)
    filter_r = None
    if "--seccomp" in argv:
        filter_r, filter_w = _pipe()
        os.write(filter_w, SECCOMP)   # (a few hundred bytes: the pipe holds them)
        os.close(filter_w)
    trace = fcntl.fcntl(trace_fd, fcntl.F_DUPFD_CLOEXEC, 10) if trace_fd is not None else None
    ours = {out_r, out_w, err_r, err_w, info_r, info_w, block_r, block_w, status_r, status_w, filter_r, trace}
    fds, targets = [out_w, err_w, info_w, block_r], [1, 2, INFO_FD, BLOCK_FD]
    for fd, target in ((status_w, STATUS_FD), (filter_r, SECCOMP_FD), (trace, TRACE_FD)):
        if fd is not None:
            fds.append(fd)
            targets.append(target)
    pidfd = None
    try:
        if spawner is not None:
            pid, pidfd = spawner.spawn(argv, env, fds, targets)
        else:
            # posix_spawn does not close inherited fds: close every fd we have that is not ours
            actions = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _open_fds() if fd > 2 and fd not in ours]
            actions.append((os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0))
            actions += [(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in zip(fds, targets, strict=True)]
            pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True, setsigmask=(),
                                 setsigdef=SIGDEF)
    except OSError as e:
        for fd in ours - {None}:
            os.close(fd)
        if isinstance(e, _SpawnerGone):
            raise
        return PhaseResult("sandbox_error", reason=f"cannot start bwrap: {e.strerror or e}")
    for fd in (out_w, err_w, info_w, block_r, status_w, filter_r, trace):
        if fd is not None:
            os.close(fd)
    for fd in (out_r, err_r, status_r):
        if fd is not None:
            os.set_blocking(fd, False)
    try:
        inner = _read_info(info_r)
    finally:
        os.close(info_r)
    inner_fd = None
    if inner is not None:
        try:
            inner_fd = os.pidfd_open(inner)
            cpu = int(limits.timeout) + 1
            for res, value in ((resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_DATA, (data, data)),
                               (resource.RLIMIT_FSIZE, (limits.max_trace_bytes,) * 2),
                               (resource.RLIMIT_NOFILE, (limits.open_files,) * 2),
                               (resource.RLIMIT_NPROC, (limits.processes,) * 2),
                               (resource.RLIMIT_CORE, (0, 0))):
                resource.prlimit(inner, res, value)
            _oom_score(inner, 1000)   # first in line (and, set by root, it cannot lower it)
            if cg is not None and spawner is None and not cg.add(inner) and data != limits.memory:
                # (a spawner's children are born in its cgroups) not in the memory cgroup after all
                resource.prlimit(inner, resource.RLIMIT_DATA, (limits.memory, limits.memory))
        except (ProcessLookupError, OSError):
            inner = None
    spawned = _Spawned(pid, out_r, err_r, inner, inner_fd, pidfd=pidfd, spawner=spawner, status=status_r)
    if inner is None:   # bwrap failed to set up the sandbox (or it died): never let it run unlimited
        spawned.kill()
        os.close(block_w)
        status, _ = spawned.wait()
        err = drain(err_r)
        spawned.close()
        return PhaseResult("sandbox_error", exit_code=os.waitstatus_to_exitcode(status),
                           stderr=err, reason=f"bwrap failed: {err.decode('utf-8', 'replace').strip()[-500:]}")
    try:
        os.write(block_w, b"\0")
    except BrokenPipeError:
        pass
    os.close(block_w)
    return spawned


def _read_info(fd: int) -> int | None:
    """The host pid of the sandbox's init, from bwrap's --info-fd JSON (None: bwrap failed)."""
    buf = b""
    deadline = time.monotonic() + SETUP_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        buf += chunk
        try:
            return int(json.loads(buf)["child-pid"])
        except (ValueError, KeyError, TypeError):
            if not chunk:
                return None


def _spawn_plain(argv: list[str], work: Path, env: dict[str, str], limits,
                 trace_fd: int | None) -> _Spawned | PhaseResult:
    """--sandbox none: the program as a plain child with the rlimits (trusted code only)."""
    def child() -> None:
        if trace_fd is not None:
            os.dup2(trace_fd, TRACE_FD)
            os.set_inheritable(TRACE_FD, True)  # dup2 onto itself keeps close-on-exec
        cpu = int(limits.timeout) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory, limits.memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_trace_bytes, limits.max_trace_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    try:
        # close_fds=False: Popen closes fds after preexec_fn runs, which would close the fd 3 made
        # there; Python's own fds are close-on-exec anyway
        proc = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, close_fds=False,
                                preexec_fn=child)
    except OSError as e:
        return PhaseResult("sandbox_error", reason=f"cannot start {argv[0]}: {e.strerror}")
    proc.returncode = 0  # we reap it ourselves (os.wait4)
    out, err = _high(os.dup(proc.stdout.fileno())), _high(os.dup(proc.stderr.fileno()))
    proc.stdout.close()
    proc.stderr.close()
    os.set_blocking(out, False)
    os.set_blocking(err, False)
    return _Spawned(proc.pid, out, err, group=True)


# --- helpers -------------------------------------------------------------------------------------

@functools.cache
def _system() -> tuple[str, ...]:
    """bwrap's arguments for SYSTEM: a symlink (/bin -> usr/bin) as a symlink, a folder bound;
    the folders leading to one (/var/cache) made 0755 (bwrap would make them 0700: out of reach)."""
    out: list[str] = []
    made = {"/"}
    for path in SYSTEM:
        if os.path.islink(path):
            out += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            for parent in reversed(Path(path).parents):
                if str(parent) not in made:
                    made.add(str(parent))
                    out += ["--perms", "0755", "--dir", str(parent)]
            out += ["--ro-bind", path, path]
    return tuple(out)


def _oom_score(pid: int, score: int) -> None:
    """Where the OOM killer puts `pid` (and what it starts): -1000 never, 1000 first. Only root
    may lower it; an unprivileged host skips that quietly (the cgroups are root's anyway)."""
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as fh:
            fh.write(str(score))
    except PermissionError:
        pass


def _open_fds() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 256))


def _descendants(pid: int) -> list[int]:
    """`pid`'s descendants (host pids), parents before children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
            except OSError:
                continue
            for k in kids:
                out.append(int(k))
                todo.append(int(k))
    return out


def _binds(env: dict[str, str], extra, notes: list[str]) -> list[str]:
    """Read-only binds for toolchains the sandbox would hide (see the module docstring)."""
    wanted: list[str] = []
    for part in env.get("PATH", "").split(":"):
        if not part.startswith("/") or not any(part.startswith(h + "/") for h in HIDDEN):
            continue
        rest = Path(part).parts   # ('/', 'root', '.cargo', 'bin') / ('/', 'home', 'u', '.go', 'bin')
        depth = 3 if rest[1] == "root" else 4
        if len(rest) >= depth:
            wanted.append(str(Path(*rest[:depth])))
    explicit = [p for p in env.get(BINDS_ENV, "").split(":") if p] + [str(p) for p in extra]
    out = []
    for path in wanted + explicit:
        path = os.path.normpath(path)
        if not os.path.isabs(path) or path in out or path in ("/", "/work"):
            continue
        if not os.path.exists(path):
            if path in explicit:
                notes.append(f"bind {path}: no such path")
            continue
        out.append(path)
    return out


def _beside_python(name: str) -> str | None:
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else None


def _decode(status: int, through_bwrap: bool) -> tuple[int | None, int | None]:
    """(exit code, signal); bwrap reports a child killed by signal N as exit 128+N."""
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    if through_bwrap and 128 < code <= 128 + 64:
        return None, code - 128
    return code, None
