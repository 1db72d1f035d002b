"""Per-run cgroups for the `local` backend: a memory limit (an OOM kill is `memory_limit`), a
pids limit (so concurrent runs never share a process count) and a CPU share (a run is one
scheduling entity however many processes it has, so 60 spinning children of one run cannot
starve the run beside it), where the cgroup tree is writable.

Both hierarchies are handled: cgroup v2 (memory.max, pids.max, memory.events, cgroup.kill) where
the unified tree has the controller, else cgroup v1 (/sys/fs/cgroup/memory, /sys/fs/cgroup/pids).
Each run gets its own directory below the cgroup this process is in (so whatever limits our own
cgroup has still hold), created before the program starts and removed after it is gone. Where
a controller is missing or read-only, `RunCgroups.notes` says so and the rlimits alone apply.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
#: cpu: accounting (v2 cpu.stat, v1 cpuacct); cpu-share: the scheduler's group (v2 cpu, v1 cpu)
CONTROLLERS = ("memory", "pids", "cpu", "cpu-share")
_V1_NAME = {"memory": "memory", "pids": "pids", "cpu": "cpuacct", "cpu-share": "cpu"}
_V2_NAME = {"cpu-share": "cpu"}
#: The run's CPU weight: that of one ordinary process (v2 cpu.weight, v1 cpu.shares defaults).
CPU_WEIGHT = {2: ("cpu.weight", "100"), 1: ("cpu.shares", "1024")}
_counter = itertools.count()


def _own_paths() -> tuple[str | None, dict[str, str]]:
    """(v2 path, {v1 controller: path}) of this process, from /proc/self/cgroup."""
    v2, v1 = None, {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None, {}
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if ctrls == "":
            v2 = path
        for c in ctrls.split(","):
            v1[c] = path
    return v2, v1


def _v2_root() -> Path | None:
    for p in (ROOT / "unified", ROOT):
        if (p / "cgroup.controllers").exists():
            return p
    return None


@dataclass
class _Place:
    """Where one controller's per-run directories go."""
    controller: str
    version: int
    parent: Path


def _sweep(parent: Path) -> None:
    """Remove run cgroups left by processes that died mid-run, killing what is still in them: a
    sandbox whose host process was SIGKILLed at the wrong moment may outlive it, and a fork
    bomb in it would keep its uid's process count full."""
    try:
        stale = [d for d in parent.glob("codealchemy-*-*") if d.name.split("-")[1].isdigit()]
    except OSError:
        return
    for d in stale:
        if Path(f"/proc/{d.name.split('-')[1]}").exists():
            continue
        for attempt in range(20):
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                try:
                    procs = _read(str(d / "cgroup.procs")).split()
                except OSError:
                    procs = []
                for pid in procs:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
                time.sleep(0.005 * (attempt + 1))


def _probe(parent: Path) -> str | None:
    """None if we can create (and remove) a child cgroup below `parent`, else why not."""
    if not parent.is_dir():
        return f"{parent} does not exist"
    probe = parent / f"codealchemy-probe{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        return f"{parent} is not writable ({e.strerror})"
    _sweep(parent)
    return None


_cache: dict[int, tuple[dict[str, _Place], list[str]]] = {}


def places() -> tuple[dict[str, _Place], list[str]]:
    """The usable place per controller, and notes on the ones that are not (cached per process)."""
    if os.getpid() in _cache:
        return _cache[os.getpid()]
    found, notes = {}, []
    v2path, v1paths = _own_paths()
    v2root = _v2_root()
    for ctrl in CONTROLLERS:
        why = []
        name = _V2_NAME.get(ctrl, ctrl)
        if v2root is not None and v2path is not None:
            parent = v2root / v2path.lstrip("/")
            try:
                # cpu.stat (usage_usec) is in every v2 cgroup, with or without the cpu controller
                enabled = ctrl == "cpu" or name in (parent / "cgroup.controllers").read_text().split()
            except OSError:
                enabled = False
            if enabled and ctrl == "cpu":
                problem = _probe(parent)
                if problem is None and (parent / "cpu.stat").exists():
                    found[ctrl] = _Place(ctrl, 2, parent)
                    continue
                why.append(f"v2: {problem or 'no cpu.stat'}")
            elif enabled:
                sub = parent / "cgroup.subtree_control"
                try:
                    if name not in sub.read_text().split():
                        sub.write_text(f"+{name}")
                    problem = _probe(parent)
                except OSError as e:
                    problem = f"cannot enable {name} in {sub} ({e.strerror})"
                if problem is None:
                    found[ctrl] = _Place(ctrl, 2, parent)
                    continue
                why.append(f"v2: {problem}")
            else:
                why.append(f"v2: controller not enabled in {parent}")
        v1 = _V1_NAME[ctrl]
        if v1 in v1paths and (ROOT / v1).is_dir():
            parent = ROOT / v1 / v1paths[v1].lstrip("/")
            problem = _probe(parent)
            if problem is None:
                found[ctrl] = _Place(ctrl, 1, parent)
                continue
            why.append(f"v1: {problem}")
        else:
            why.append("v1: not mounted")
        notes.append(f"no {ctrl} cgroup ({'; '.join(why)}): "
                     + {"cpu": "CPU time not measured",
                        "cpu-share": "a run's processes each get a full CPU share"}.get(ctrl, "rlimits only"))
    _cache.clear()
    _cache[os.getpid()] = found, notes
    return found, notes


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)


@dataclass
class RunCgroups:
    """The cgroups of one run; `add(pid)` before the program starts, `close()` when it is gone.

    Per-run file access uses plain os calls on string paths: a run touches a dozen cgroup files,
    and pathlib plus text I/O would cost more than the kernel work."""
    dirs: dict[str, tuple[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    keep: frozenset[int] = frozenset()   # pids living in the cgroups across runs (a slot's spawner)
    _oom0: int = 0                       # counters when the current run began (slot cgroups)
    _cpu0: float = 0.0

    @classmethod
    def create(cls, memory: int, processes: int) -> RunCgroups:
        """Fresh cgroups for one run (removed by close())."""
        run = cls.slot(f"codealchemy-{os.getpid()}-{next(_counter)}")
        run.begin(memory, processes)
        return run

    @classmethod
    def slot(cls, name: str) -> RunCgroups:
        """Cgroups under `name` (created if needed), to be reused run after run via begin()."""
        found, notes = places()
        run = cls(notes=list(notes))
        for ctrl, place in found.items():
            d = f"{place.parent}/{name}"
            try:
                os.mkdir(d)
            except FileExistsError:
                pass
            except OSError as e:
                run.notes.append(f"cannot create {d} ({e.strerror}): no {ctrl} cgroup")
                continue
            run.dirs[ctrl] = (place.version, d)
        return run

    def begin(self, memory: int, processes: int) -> None:
        """Set this run's limits; counters (OOM kills, CPU time) count from here."""
        for ctrl, (version, d) in self.dirs.items():
            try:
                if ctrl == "memory":
                    self._limit_memory(version, d, memory)
                elif ctrl == "pids":
                    _write(d + "/pids.max", str(processes))
                elif ctrl == "cpu-share":
                    knob, value = CPU_WEIGHT[version]
                    _write(f"{d}/{knob}", value)
            except OSError as e:
                self.notes.append(f"cannot set {ctrl} limit in {d} ({e.strerror})")
        self._oom0 = self._oom_count()
        self._cpu0 = self._cpu_total() or 0.0

    @staticmethod
    def _limit_memory(version: int, d: str, memory: int) -> None:
        if version == 2:
            _write(d + "/memory.max", str(memory))
            if os.path.exists(d + "/memory.swap.max"):
                _write(d + "/memory.swap.max", "0")
            return
        _write(d + "/memory.limit_in_bytes", str(memory))
        if os.path.exists(d + "/memory.memsw.limit_in_bytes"):   # no swap beyond the limit either
            _write(d + "/memory.memsw.limit_in_bytes", str(memory))

    def add(self, pid: int) -> bool:
        """Move `pid` (blocked before it runs anything of the program) into every run cgroup;
        False if it could not join one (that one is then dropped from the run)."""
        ok, joined, failed = True, set(), set()
        for ctrl, (_, d) in list(self.dirs.items()):
            if d in joined:   # (v2: cpu and cpu-share are one directory)
                continue
            try:
                if d in failed:
                    raise OSError(0, "as the controller beside it")
                _write(d + "/cgroup.procs", str(pid))
                joined.add(d)
            except OSError as e:
                failed.add(d)
                self.notes.append(f"cannot join {ctrl} cgroup ({e.strerror})")
                ok = False
                del self.dirs[ctrl]
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        return ok

    @property
    def limits_memory(self) -> bool:
        return "memory" in self.dirs

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) of everything that ran in the run's cgroup since begin()."""
        total = self._cpu_total()
        return None if total is None else max(total - self._cpu0, 0.0)

    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed a process in the run's memory cgroup since begin()."""
        return self._oom_count() > self._oom0

    def _cpu_total(self) -> float | None:
        if "cpu" not in self.dirs:
            return None
        version, d = self.dirs["cpu"]
        try:
            if version == 1:
                return int(_read(d + "/cpuacct.usage")) / 1e9
            for line in _read(d + "/cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
        except (OSError, ValueError):
            pass
        return None

    def _oom_count(self) -> int:
        if "memory" not in self.dirs:
            return 0
        version, d = self.dirs["memory"]
        try:
            text = _read(d + ("/memory.events" if version == 2 else "/memory.oom_control"))
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        if version == 1:  # kernels before 4.13 lack the oom_kill counter: count hits of the limit
            try:
                return int(_read(d + "/memory.failcnt"))
            except (OSError, ValueError):
                return 0
        return 0

    def pids(self) -> list[int]:
        """Processes in the run's cgroups (less the ones kept across runs)."""
        out = set()
        for _, d in self.dirs.values():
            try:
                out.update(int(p) for p in _read(d + "/cgroup.procs").split())
            except (OSError, ValueError):
                pass
        return sorted(out - self.keep)

    def kill(self) -> None:
        """SIGKILL everything in the run's cgroups (cgroup.kill on v2), but the kept pids."""
        for version, d in self.dirs.values():
            if not self.keep and version == 2 and os.path.exists(d + "/cgroup.kill"):
                try:
                    _write(d + "/cgroup.kill", "1")
                except OSError:
                    pass
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        """Remove the run's cgroups, killing anything still in them first."""
        for attempt in range(50):
            left = {}
            for ctrl, (version, d) in self.dirs.items():
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
                except OSError:
                    left[ctrl] = (version, d)
            self.dirs = left
            if not left:
                return
            if attempt == 0:
                self.kill()
            time.sleep(0.002 * (attempt + 1))
        self.notes.append(f"cgroups not removed: {', '.join(d for _, d in self.dirs.values())}")
