"""The `local` backend: each phase runs inside bubblewrap on this machine.

The program sees a read-only root, a private writable /work and /tmp, no network, a new PID
namespace (so killing the sandbox kills every process it started, even ones that called
setsid), and runs as an unprivileged uid: as root, bubblewrap sets up the mounts and
`setpriv` drops to that uid; as a normal user, a user namespace maps it. rlimits bound CPU
time, data size (RLIMIT_DATA: the JVM and WebAssembly reserve address space, so RLIMIT_AS
would break them), file size, open files and processes.
"""

from __future__ import annotations

import os
import resource
import select
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from . import TRACE_FD, PhaseResult, RunRequest, RunResult, SandboxError, classify

SANDBOX_UID = 65534
BWRAP_HINT = "bubblewrap is not installed: run `apt-get install bubblewrap` (or pass --sandbox none for trusted code)"
PATH = "/usr/local/bin:/usr/local/go/bin:/usr/bin:/bin"


class LocalBackend:
    name = "local"

    def __init__(self, sandbox: str = "bwrap", uid: int = SANDBOX_UID):
        if sandbox not in ("bwrap", "none"):
            raise ValueError(f"unknown sandbox {sandbox!r} (bwrap or none)")
        if sandbox == "bwrap" and shutil.which("bwrap") is None:
            raise SandboxError(BWRAP_HINT)
        self.sandbox = sandbox
        self.uid = uid
        self.as_root = os.geteuid() == 0

    # --- the sandbox wrapper ---------------------------------------------------------------

    def _wrap(self, argv: list[str], work: Path) -> list[str]:
        if self.sandbox == "none":
            return argv
        box = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session",
               "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
               "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--tmpfs", "/root", "--tmpfs", "/home",
               "--bind", str(work), "/work", "--chdir", "/work"]
        if self.as_root:
            return box + ["--cap-add", "CAP_SETUID,CAP_SETGID", "--", "setpriv",
                          f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                          "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *argv]
        return box[:1] + ["--unshare-user", "--uid", str(self.uid), "--gid", str(self.uid)] + box[1:] + ["--", *argv]

    def _limits(self, limits, trace_fd: int | None):
        timeout = limits.timeout

        def child() -> None:
            if trace_fd is not None:
                os.dup2(trace_fd, TRACE_FD)
                os.set_inheritable(TRACE_FD, True)
            cpu = int(timeout) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_DATA, (limits.memory, limits.memory))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_trace_bytes, limits.max_trace_bytes))
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        return child

    # --- one phase -------------------------------------------------------------------------

    def _phase(self, argv: list[str], work: Path, env: dict[str, str], limits,
               trace_fd: int | None = None) -> PhaseResult:
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                self._wrap(argv, work), cwd=work, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                pass_fds=(trace_fd,) if trace_fd is not None else (),
                preexec_fn=self._limits(limits, trace_fd))
        except OSError as e:
            return PhaseResult("sandbox_error", reason=f"cannot start {argv[0]}: {e.strerror}")
        stdout, stderr = bytearray(), bytearray()
        out = {proc.stdout.fileno(): stdout, proc.stderr.fileno(): stderr}
        sel = selectors.DefaultSelector()
        for f in (proc.stdout, proc.stderr):
            os.set_blocking(f.fileno(), False)
            sel.register(f, selectors.EVENT_READ)
        deadline = started + limits.timeout
        timed_out = output_over = False
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(min(left, 0.5)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = out[key.fd]
                room = limits.max_output - len(buf)
                buf += chunk[:room]
                if len(chunk) > room:
                    output_over = True
            if output_over:
                break
        sel.close()
        if not (timed_out or output_over):
            timed_out = not _wait_until(proc, deadline)
        if timed_out or output_over:
            _kill(proc)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = status
        proc.stdout.close()
        proc.stderr.close()
        exit_code, sig = _decode(status, self.sandbox != "none")
        state, reason = classify(exit_code, sig, stderr, timed_out=timed_out, output_over=output_over)
        return PhaseResult(state, exit_code=exit_code, signal=sig, wall=time.monotonic() - started,
                           cpu=usage.ru_utime + usage.ru_stime, stdout=bytes(stdout), stderr=bytes(stderr), reason=reason)

    # --- a request -------------------------------------------------------------------------

    def run(self, request: RunRequest) -> RunResult:
        with tempfile.TemporaryDirectory(prefix="codealchemy-") as tmp:
            root = Path(tmp)
            os.chmod(root, 0o711)
            work = root / "work"
            work.mkdir()
            for name, data in request.files.items():
                (work / name).write_bytes(data)
            if self.as_root and self.sandbox == "bwrap":
                for p in [work, *work.iterdir()]:
                    os.chown(p, self.uid, self.uid)
            env = {"PATH": PATH, "HOME": "/work" if self.sandbox == "bwrap" else str(work),
                   "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp", **request.env}
            if self.sandbox == "none":
                env = {k: v.replace("/work", str(work)) for k, v in env.items()}
            compiled = None
            if request.compile:
                compiled = self._phase(request.compile, work, env, request.limits)
                if compiled.status == "runtime_error":
                    compiled.status = "compile_error"
                if not compiled.ok:
                    return RunResult(compiled, None)
            trace_path = root / "trace"
            with trace_path.open("wb") as fh:
                if request.trace:
                    env = {**env, "CODEALCHEMY_TRACE_FD": str(TRACE_FD)}
                ran = self._phase(request.run, work, env, request.limits,
                                  trace_fd=fh.fileno() if request.trace else None)
            with trace_path.open("rb") as fh:
                trace = fh.read(request.limits.max_trace_bytes)
            return RunResult(compiled, ran, trace=trace,
                             trace_truncated=trace_path.stat().st_size > len(trace))


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_until(proc: subprocess.Popen, deadline: float) -> bool:
    """Wait for the process to exit (without reaping it) until `deadline`."""
    fd = os.pidfd_open(proc.pid)
    try:
        return bool(select.select([fd], [], [], max(deadline - time.monotonic(), 0))[0])
    finally:
        os.close(fd)


def _decode(status: int, through_bwrap: bool) -> tuple[int | None, int | None]:
    """(exit code, signal); bwrap reports a child killed by signal N as exit 128+N."""
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    if through_bwrap and 128 < code <= 128 + 64:
        return None, code - 128
    return code, None
