"""The `docker` backend: each language's image (`trace runtimes build`), a warm container per
language reused across runs, the same statuses and limits as the local backend.

A `docker exec` costs ~150-200 ms here (runc sets up a process in the container's namespaces),
a `docker run` per file ~0.25 s on an idle machine and ~1 s under load (benchmarks/
docker_overhead.py), so neither happens per run: a run costs ~25 ms over a bare subprocess.
Each container runs a small bash agent (AGENT below) under docker-init; the host talks to it
through FIFOs on a private tmpfs of the container (/run/codealchemy, mode 0700, root's), reached
from the host through /proc/<agent pid>/root, so no request goes through dockerd:

- the host writes the run's files into the container's /work (a tmpfs), the request (env and
  argv, NUL-separated) into /run/codealchemy/req.N, makes FIFOs out.N and err.N and, for a
  traced run, an empty trace.N (root's, mode 0600), then writes one line to the `ctl` FIFO;
- the agent starts the phase in the background: a subshell that opens those files (stdout,
  stderr, fd 3 = the trace channel), sets the rlimits (CPU time, RLIMIT_DATA, file size,
  which also caps the trace channel, open files, processes, no core) and execs the local
  backend's perl REAPER (root's, so the program cannot signal it), which runs `setpriv
  --reuid=U --regid=U --clear-groups --inh-caps=-all --no-new-privs -- env -i ENV ARGV` in
  /work and writes its real wait status to wait.N (bash's `$?` reads a signal N and `exit
  128+N` alike); when it exits the agent writes `done N <bash status> <wait status>` to the
  `status` FIFO;
- the host streams out.N/err.N with the same caps as the local backend, enforces the wall-clock
  limit, and on a timeout, output over the cap, or once the phase is over, kills every process
  of the run's uid in the container (cgroup freezer first, so a fork bomb cannot outrun it):
  the whole process tree, setsid()ed grandchildren included; the container and its agent live on.

Isolation: no network (--network none), read-only root, --cap-drop ALL (the agent keeps only
CAP_SETUID and CAP_SETGID, to become the run's uid; programs run with no capability at all),
no-new-privileges, pids/memory/CPU limits on the container, tmpfs /work, /tmp, /var/tmp and
/dev/shm emptied after every run. The agent is uid 0 of the container; programs run as a uid
taken from a range, one per container (lock files, as the local backend's uid slots), so
RLIMIT_NPROC counts only that container's run and the program cannot signal or ptrace the agent.

The trace channel: trace.N is opened by the (root) subshell and inherited as fd 3; the program
cannot open it by path (it is root's, in a 0700 folder), so as with the local backend it can only
write, seek or truncate that one file through fd 3, never forge another run's trace or the
agent's status. The host reads the file back after the run, up to max_trace_bytes.

Memory: as the local backend with a memory cgroup, RLIMIT_DATA is twice the limit and the
container's memory cgroup is the limit (plus 64 MiB for the agent; no swap): an OOM kill in it
(memory.oom_control / memory.events) is memory_limit, as is MemoryError, bad_alloc... on stderr.
The tmpfs files of a run are charged to that cgroup too. CPU time is
the container cgroup's usage over the phase (one run at a time per container).

Containers are labelled codealchemy.backend=docker with their owner (host name, pid, start
time); a new backend removes those whose owner is gone, the owner removes its own at exit, and
an agent exits by itself when its owner's end of the ctl FIFO closes (a crash of the owner), so
the container (started with --rm) goes away. Programs see docker-init and the agent in `ps`.

Needs: the docker SDK (`pip install 'codealchemy[docker]'`), an engine on this machine and root
(the host reaches containers through /proc/<pid>/root and their cgroups); else SandboxError.
A timed-out Python run gets no py-spy stack here (PhaseResult.stack is None; a note says so).
"""

from __future__ import annotations

import atexit
import errno
import os
import select
import shutil
import signal
import socket
import stat
import threading
import time
from pathlib import Path

from . import TRACE_FD, PhaseResult, RunRequest, RunResult, SandboxError, classify
from .local import BINDS_ENV, PATH, REAPER, _Slot

LABEL = "codealchemy.backend"
OWNER_LABEL = "codealchemy.owner"
#: First uid of the range the docker backend's programs run as (one uid per container).
DOCKER_UID = 1_870_000
DOCKER_UID_SLOTS = 256
AGENT_UID = 0
START_TIMEOUT = 30.0
LINGER = 0.5            # seconds to wait for output still in the pipes after the phase exited
CTL = "/run/codealchemy"
DATA_FACTOR, CGROUP_FACTOR = 2, 1   # RLIMIT_DATA and the container memory cgroup, times the memory limit
MOUNTS = ("/work", "/tmp", "/var/tmp", "/dev/shm")   # emptied after every run

#: The agent: `bash -c AGENT` as the container's main process (under docker-init).
AGENT = r"""
set -u
cd /run/codealchemy || exit 1
mkfifo -m 600 ctl status || exit 1
: > ready
exec 7<ctl 8>status
phase() {
  cd /work || exit 126
  ulimit -c 0 && ulimit -S -t "$cpu" && ulimit -H -t "$((cpu + 1))" && ulimit -d "$data" \
    && ulimit -f "$fsize" && ulimit -n "$nofile" && ulimit -u "$nproc" || exit 126
  exec /usr/bin/perl -e "$REAPER" -- /usr/bin/setpriv --reuid="$uid" --regid="$uid" --clear-groups \
    --inh-caps=-all --no-new-privs -- /usr/bin/env -i "${e[@]}" "${a[@]}"
}
while read -r -u 7 n cpu data fsize nofile nproc uid trace; do
  e=(); a=(); seen=
  while IFS= read -r -d '' x; do
    if [ -n "$seen" ]; then a+=("$x"); elif [ "$x" = "--" ]; then seen=1; else e+=("$x"); fi
  done < "req.$n"
  if [ "$trace" = 1 ]; then
    phase </dev/null >"out.$n" 2>"err.$n" 3>"trace.$n" 6>"wait.$n" 7<&- 8<&- &
  else
    phase </dev/null >"out.$n" 2>"err.$n" 6>"wait.$n" 7<&- 8<&- &
  fi
  wait "$!"
  code=$?
  read -r w < "wait.$n" || w=-
  rm -f "wait.$n"
  echo "done $n $code ${w:--}" >&8
done
"""


def _exit_and_signal(code: int, wait_status: int | None) -> tuple[int | None, int | None]:
    """(exit code, signal) from the reaper's wait status, which tells `exit 152` from SIGXCPU;
    without one (the phase failed before the reaper ran), bash's 128+N reading."""
    if wait_status is not None:
        return (None, wait_status & 127) if wait_status & 127 else (wait_status >> 8, None)
    return (None, code - 128) if 128 < code <= 128 + 64 else (code, None)


class DockerBackend:
    name = "docker"
    sandbox = "docker"

    def __init__(self, sandbox: str = "docker", cpus: float | None = None, uid: int = DOCKER_UID,
                 uids: int = DOCKER_UID_SLOTS, image_for=None):
        from .. import images

        if os.geteuid() != 0:
            raise SandboxError("the docker backend needs root: it reaches its containers through /proc/<pid>/root "
                               "and their cgroups")
        try:
            self.client = images.client()
        except RuntimeError as e:
            raise SandboxError(str(e)) from None
        self.image_for = image_for or images.tag
        self.cpus = cpus or float(os.environ.get("CODEALCHEMY_DOCKER_CPUS") or min(2, os.cpu_count() or 1))
        self.uid, self.uids = uid, uids
        self.host = socket.gethostname()
        self._pool: dict[tuple, list[_Container]] = {}
        self._all: list[_Container] = []
        self._mutex = threading.Lock()
        self._owner = os.getpid()
        remove_stale(self.client, self.host)
        atexit.register(self.close)

    # --- the pool of warm containers ---------------------------------------------------------

    def _acquire(self, image: str, limits) -> _Container:
        key = (image, limits.memory, limits.processes, limits.max_trace_bytes)
        with self._mutex:
            if self._owner != os.getpid():   # a forked child: the parent's containers are not ours
                self._pool, self._all, self._owner = {}, [], os.getpid()
            idle = self._pool.setdefault(key, [])
            while idle:
                box = idle.pop()
                if box.alive():
                    return box
                box.close()
        slot = _Slot.acquire(self.uid, self.uids)
        try:
            box = _Container.start(self, image, limits, slot)
        except BaseException:
            slot.release()
            raise
        with self._mutex:
            self._all.append(box)
        return box

    def _release(self, box: _Container, limits) -> None:
        key = (box.image, limits.memory, limits.processes, limits.max_trace_bytes)
        with self._mutex:
            if box.alive() and self._owner == os.getpid():
                self._pool.setdefault(key, []).append(box)
                return
        self._discard(box)

    def _discard(self, box: _Container) -> None:
        with self._mutex:
            if box in self._all:
                self._all.remove(box)
        box.close()

    def close(self) -> None:
        """Remove every container of this backend (at exit)."""
        with self._mutex:
            if self._owner != os.getpid():
                return
            boxes, self._all, self._pool = self._all, [], {}
        for box in boxes:
            box.close()

    # --- one run -------------------------------------------------------------------------------

    def run(self, request: RunRequest) -> RunResult:
        notes: list[str] = []
        if not request.language:
            return RunResult(None, PhaseResult("sandbox_error",
                                               reason="the docker backend needs the request's language"))
        image = self.image_for(request.language)
        try:
            self.client.images.get(image)
        except Exception:
            return RunResult(None, PhaseResult(
                "sandbox_error", reason=f"image {image} is not built: run `trace runtimes build {request.language}`"))
        limits = request.limits
        try:
            box = self._acquire(image, limits)
        except (SandboxError, OSError, RuntimeError) as e:
            return RunResult(None, PhaseResult("sandbox_error", reason=f"cannot start a container: {e}"))
        except Exception as e:   # docker SDK errors (APIError, ...)
            return RunResult(None, PhaseResult("sandbox_error", reason=f"cannot start a container: {e}"))
        try:
            result = self._run(box, request, notes)
        except _AgentGone as e:
            self._discard(box)
            bad = PhaseResult("sandbox_error", reason=f"the container's agent died: {e}")
            return RunResult(None, bad, notes=notes)
        except BaseException:
            self._discard(box)
            raise
        try:
            box.reset()
        except OSError as e:
            notes.append(f"container reset failed ({e}): replaced")
            self._discard(box)
        else:
            self._release(box, limits)
        return result

    def _run(self, box: _Container, request: RunRequest, notes: list[str]) -> RunResult:
        limits = request.limits
        for name, data in request.files.items():
            if not box.write_file(name, data):
                bad = PhaseResult("sandbox_error", reason=f"file name {name!r} leaves the work folder")
                return RunResult(None, bad, notes=notes)
        env = {"PATH": PATH, "HOME": "/work", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp", **request.env}
        env.pop(BINDS_ENV, None)
        compiled = None
        if request.compile:
            compiling = limits.compiling() if hasattr(limits, "compiling") else limits   # its own timeout
            compiled = box.phase(request.compile, env, compiling, trace=False)
            if compiled.status == "runtime_error":
                compiled.status = "compile_error"
            if not compiled.ok:
                return RunResult(compiled, None, notes=notes)
        if request.trace:
            env = {**env, "CODEALCHEMY_TRACE_FD": str(TRACE_FD)}
        ran = box.phase(request.run, env, limits, trace=request.trace)
        trace, size = box.take_trace(limits.max_trace_bytes) if request.trace else (b"", 0)
        if size >= limits.max_trace_bytes and ran.status == "runtime_error":
            ran.status, ran.reason = "output_limit", "trace exceeded max_trace_bytes (file-size limit)"
        if ran.status == "timeout" and request.language == "python":
            notes.append("no py-spy stack: the docker backend does not dump stuck programs")
        return RunResult(compiled, ran, trace=trace,
                         trace_truncated=size > len(trace) or size >= limits.max_trace_bytes, notes=notes)


class _AgentGone(OSError):
    pass


class _Container:
    """One warm container: its agent's FIFOs, its cgroups, the uid its runs get."""

    def __init__(self, backend: DockerBackend, image: str, container, slot: _Slot, pid: int):
        self.backend, self.image, self.container, self.slot, self.pid = backend, image, container, slot, pid
        self.uid = slot.uid
        self.root = f"/proc/{pid}/root"
        self.n = 0
        self.ctl_w = self.status_r = None
        self.status_buf = b""
        self.cg = _cgroups(pid)

    @classmethod
    def start(cls, backend: DockerBackend, image: str, limits, slot: _Slot) -> _Container:
        mem = CGROUP_FACTOR * limits.memory + (64 << 20)
        tmp = max(limits.memory, 1 << 20)
        opts = "rw,nosuid,nodev,exec,size={}"
        owner = f"{backend.host}:{os.getpid()}:{_start_time(os.getpid())}"
        container = backend.client.containers.run(
            image, ["bash", "-c", AGENT], detach=True, auto_remove=True, init=True,
            user=f"{AGENT_UID}:{AGENT_UID}", network_mode="none", read_only=True,
            cap_drop=["ALL"], cap_add=["SETUID", "SETGID"], security_opt=["no-new-privileges"],
            pids_limit=limits.processes + 16, mem_limit=mem, memswap_limit=mem,
            nano_cpus=int(backend.cpus * 1e9), shm_size=tmp, working_dir="/",
            tmpfs={"/work": opts.format(tmp) + ",mode=755", "/tmp": opts.format(tmp) + ",mode=1777",
                   "/var/tmp": opts.format(tmp) + ",mode=1777",
                   CTL: f"rw,nosuid,nodev,noexec,size={limits.max_trace_bytes + (1 << 20)},mode=700"},
            labels={LABEL: "docker", OWNER_LABEL: owner}, log_config={"type": "none"},
            environment={"REAPER": REAPER}, stdin_open=False, tty=False)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                container.reload()
                state = container.attrs["State"]
                if state.get("Pid"):
                    pid = state["Pid"]
                    break
                if state.get("Status") in ("exited", "dead") or time.monotonic() > deadline:
                    raise SandboxError(f"container of {image} did not start ({state.get('Status')})")
                time.sleep(0.02)
            box = cls(backend, image, container, slot, pid)
            box._connect(deadline)
            return box
        except BaseException:
            try:
                container.remove(force=True)
            except Exception:
                pass
            raise

    def _connect(self, deadline: float) -> None:
        """Wait for the agent's FIFOs, then open our ends (it then waits on ctl)."""
        agent = self._agent_pid()
        base = f"/proc/{agent}/root{CTL}" if agent else None
        while True:
            agent = agent or self._agent_pid()
            base = f"/proc/{agent}/root{CTL}" if agent else None
            if base and os.path.exists(f"{base}/ready"):
                break
            if time.monotonic() > deadline:
                raise SandboxError(f"the agent in the {self.image} container did not start")
            time.sleep(0.005)
        self.root = f"/proc/{agent}/root"
        self.agent = agent
        self.status_r = os.open(f"{base}/status", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        while True:
            try:
                self.ctl_w = os.open(f"{base}/ctl", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                break
            except OSError as e:
                if e.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        os.set_blocking(self.ctl_w, True)
        self.baseline = set(self._procs())
        work = os.open(f"{self.root}/work", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchown(work, self.uid, self.uid)
        finally:
            os.close(work)

    def _agent_pid(self) -> int | None:
        """The host pid of bash, docker-init's child."""
        try:
            kids = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def alive(self) -> bool:
        try:
            os.kill(self.agent, 0)
        except (ProcessLookupError, AttributeError):
            return False
        return True

    # --- files ---------------------------------------------------------------------------------

    def write_file(self, name: str, data: bytes) -> bool:
        """Write a file of the run under /work, owned by the run's uid (nothing of the program runs now)."""
        norm = os.path.normpath(name)
        parts = norm.split("/")
        if os.path.isabs(norm) or not parts or parts[0] in ("..", ".", ""):
            return False
        fd = os.open(f"{self.root}/work", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            for part in parts[:-1]:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    os.chown(part, self.uid, self.uid, dir_fd=fd, follow_symlinks=False)
                except FileExistsError:
                    pass
                sub = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = sub
            f = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                        dir_fd=fd)
            try:
                view, written = memoryview(data), 0
                while written < len(view):
                    written += os.write(f, view[written:])
                os.fchown(f, self.uid, self.uid)
            finally:
                os.close(f)
        finally:
            os.close(fd)
        return True

    def take_trace(self, cap: int) -> tuple[bytes, int]:
        path = f"{self.root}{CTL}/trace.{self.n}"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return b"", 0
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return b"", 0
            chunks, got = [], 0
            while got < cap and (chunk := os.read(fd, min(1 << 20, cap - got))):
                chunks.append(chunk)
                got += len(chunk)
            return b"".join(chunks), st.st_size
        finally:
            os.close(fd)
            _unlink(path)

    def reset(self) -> None:
        """After a run: nothing of its uid alive, its files gone from /work, /tmp, /var/tmp, /dev/shm."""
        self.kill()
        for mount in MOUNTS:
            fd = os.open(f"{self.root}{mount}", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                for entry in os.listdir(fd):
                    try:
                        st = os.stat(entry, dir_fd=fd, follow_symlinks=False)
                        if stat.S_ISDIR(st.st_mode):
                            shutil.rmtree(entry, dir_fd=fd)
                        else:
                            os.unlink(entry, dir_fd=fd)
                    except FileNotFoundError:
                        pass
                if mount == "/work":
                    os.fchown(fd, self.uid, self.uid)
            finally:
                os.close(fd)

    # --- one phase -----------------------------------------------------------------------------

    def phase(self, argv: list[str], env: dict[str, str], limits, trace: bool) -> PhaseResult:
        self.n += 1
        n = self.n
        base = f"{self.root}{CTL}"
        req = b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items()) + b"--\0"
        req += b"".join(a.encode() + b"\0" for a in argv)
        with open(f"{base}/req.{n}", "wb") as fh:
            fh.write(req)
        for name in ("out", "err"):
            os.mkfifo(f"{base}/{name}.{n}", 0o600)
        if trace:
            os.close(os.open(f"{base}/trace.{n}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        out = os.open(f"{base}/out.{n}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        err = os.open(f"{base}/err.{n}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        cpu0, oom0 = self.cg.cpu(), self.cg.ooms()
        cpu = int(limits.timeout) + 1
        data_kib = max(limits.memory * DATA_FACTOR // 1024, 1)
        fsize = max(limits.max_trace_bytes // 1024, 1)
        line = f"{n} {cpu} {data_kib} {fsize} {limits.open_files} {limits.processes} {self.uid} {int(trace)}\n"
        started = time.monotonic()
        try:
            try:
                os.write(self.ctl_w, line.encode())
            except OSError as e:
                raise _AgentGone(f"cannot reach the agent: {e}") from None
            result = self._watch(n, out, err, started, limits)
        finally:
            os.close(out)
            os.close(err)
            for name in ("out", "err", "req"):
                _unlink(f"{base}/{name}.{n}")
        cpu1, oom1 = self.cg.cpu(), self.cg.ooms()
        if cpu0 is not None and cpu1 is not None:
            result.cpu = max(cpu1 - cpu0, 0.0)
        oom = oom0 is not None and oom1 is not None and oom1 > oom0
        if oom and result.status in ("runtime_error", "ok"):
            result.status, result.reason = "memory_limit", "memory limit reached"
        return result

    def _watch(self, n: int, out: int, err: int, started: float, limits) -> PhaseResult:
        stdout, stderr = bytearray(), bytearray()
        bufs = {out: stdout, err: stderr}
        ep = select.epoll()
        for fd in (out, err, self.status_r):
            ep.register(fd, select.EPOLLIN)
        live, code = {out, err}, None
        deadline = started + limits.timeout
        linger = None
        timed_out = output_over = agent_gone = False
        cap = limits.max_output
        try:
            while live or code is None:
                now = time.monotonic()
                if linger is not None and now >= linger:
                    break
                left = deadline - now
                if left <= 0:
                    timed_out = True
                    break
                for fd, ev in ep.poll(left if linger is None else min(left, linger - now)):
                    if fd == self.status_r:
                        got = self._status(n)
                        if got == "gone":
                            agent_gone = True
                        elif got is not None:
                            code = got
                            linger = time.monotonic() + LINGER
                        continue
                    buf = bufs[fd]
                    room = cap - len(buf)
                    try:
                        chunk = os.read(fd, min(65536, room + 1))
                    except BlockingIOError:
                        continue
                    if not chunk:
                        if ev & select.EPOLLHUP:
                            ep.unregister(fd)
                            live.discard(fd)
                    elif len(chunk) > room:
                        buf += chunk[:room]
                        output_over = True
                    else:
                        buf += chunk
                if output_over or agent_gone:
                    break
            wall = time.monotonic() - started
            self.kill()
            if code is None and not agent_gone:
                code = self._wait_status(n, 5.0)
        finally:
            ep.close()
        if agent_gone or code is None:
            raise _AgentGone("no exit status from the agent")
        exit_code, sig = _exit_and_signal(*code)
        status, reason = classify(exit_code, sig, bytes(stderr), timed_out=timed_out, output_over=output_over)
        return PhaseResult(status, exit_code=exit_code, signal=sig, wall=wall, cpu=0.0,
                           stdout=bytes(stdout), stderr=bytes(stderr), reason=reason)

    def _status(self, n: int):
        """(the shell's exit status, the reaper's wait status or None) of phase n once its line
        came ('gone': the agent died; None: not yet)."""
        while True:
            try:
                chunk = os.read(self.status_r, 4096)
            except BlockingIOError:
                return None
            if not chunk:
                return "gone"
            self.status_buf += chunk
            while b"\n" in self.status_buf:
                line, self.status_buf = self.status_buf.split(b"\n", 1)
                parts = line.split()
                if len(parts) == 4 and parts[0] == b"done" and parts[1] == str(n).encode():
                    return int(parts[2]), (int(parts[3]) if parts[3].isdigit() else None)

    def _wait_status(self, n: int, timeout: float) -> tuple[int, int | None] | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.status_r], [], [], left)[0]:
                got = self._status(n)
                if got == "gone":
                    return None
                if got is not None:
                    return got
        return None

    # --- killing -------------------------------------------------------------------------------

    def _procs(self) -> list[int]:
        return self.cg.procs()

    def _of_uid(self) -> list[int]:
        pids = []
        for pid in self._procs():
            if pid in self.baseline:
                continue
            try:
                with open(f"/proc/{pid}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"Uid:"):
                            if int(line.split()[1]) == self.uid:
                                pids.append(pid)
                            break
            except OSError:
                pass
        return pids

    def kill(self) -> None:
        """SIGKILL every process of the run's uid in the container (frozen first), until none is left."""
        deadline = time.monotonic() + 10
        while pids := self._of_uid():
            frozen = self.cg.freeze()
            try:
                for pid in self._of_uid() if frozen else pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            finally:
                if frozen:
                    self.cg.thaw()
            if time.monotonic() > deadline:
                raise OSError("processes of the run survive SIGKILL")
            time.sleep(0.001)

    def close(self) -> None:
        for fd in (self.ctl_w, self.status_r):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.ctl_w = self.status_r = None
        try:
            self.container.remove(force=True)
        except Exception:
            pass
        self.slot.release()


class _Cgroups:
    """The container's cgroups (v1 controllers or the v2 unified tree) as the host sees them."""

    def __init__(self, paths: dict[str, str], unified: str | None):
        self.paths, self.unified = paths, unified

    def _file(self, controller: str, name: str) -> str | None:
        if self.unified is not None:
            return f"/sys/fs/cgroup{self.unified}/{name}"
        p = self.paths.get(controller)
        return f"/sys/fs/cgroup/{controller}{p}/{name}" if p is not None else None

    def _read(self, controller: str, name: str) -> str | None:
        f = self._file(controller, name)
        try:
            return Path(f).read_text() if f else None
        except OSError:
            return None

    def procs(self) -> list[int]:
        text = self._read("pids", "cgroup.procs") or self._read("memory", "cgroup.procs") or ""
        return [int(p) for p in text.split()]

    def cpu(self) -> float | None:
        if self.unified is not None:
            text = self._read("", "cpu.stat") or ""
            for line in text.splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
            return None
        text = self._read("cpuacct", "cpuacct.usage")
        return int(text) / 1e9 if text else None

    def ooms(self) -> int | None:
        text = (self._read("", "memory.events") if self.unified is not None
                else self._read("memory", "memory.oom_control"))
        for line in (text or "").splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return None

    def freeze(self) -> bool:
        if self.unified is not None:
            f, on, state = self._file("", "cgroup.freeze"), "1", None
        else:
            f, on, state = self._file("freezer", "freezer.state"), "FROZEN", self._file("freezer", "freezer.state")
        try:
            Path(f).write_text(on)
        except (OSError, TypeError):
            return False
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            try:
                if state is None:
                    if "frozen 1" in Path(f.replace("cgroup.freeze", "cgroup.events")).read_text():
                        return True
                elif Path(state).read_text().strip() == "FROZEN":
                    return True
            except OSError:
                return True
            time.sleep(0.001)
        return True

    def thaw(self) -> None:
        if self.unified is not None:
            f, off = self._file("", "cgroup.freeze"), "0"
        else:
            f, off = self._file("freezer", "freezer.state"), "THAWED"
        try:
            Path(f).write_text(off)
        except (OSError, TypeError):
            pass


def _cgroups(pid: int) -> _Cgroups:
    paths, unified = {}, None
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        num, ctrls, path = line.split(":", 2)
        if num == "0" and not ctrls:
            unified = path
        for c in ctrls.split(","):
            if c:
                paths[c] = path
    if paths.get("memory") or paths.get("pids"):
        unified = None    # v1 (or hybrid): the controllers have their own trees
    return _Cgroups(paths, unified)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def remove_stale(client, host: str) -> list[str]:
    """Remove this host's backend containers whose owner process is gone (a crash); their names."""
    gone = []
    try:
        containers = client.containers.list(all=True, filters={"label": LABEL})
    except Exception:
        return gone
    for c in containers:
        owner = c.labels.get(OWNER_LABEL, "")
        h, _, rest = owner.partition(":")
        pid, _, started = rest.partition(":")
        if h != host or not pid.isdigit():
            continue
        if int(pid) == os.getpid() or (os.path.exists(f"/proc/{pid}") and _start_time(int(pid)) == started):
            continue
        try:
            c.remove(force=True)
            gone.append(c.name)
        except Exception:
            pass
    return gone
