"""Shards of a run: the step contract, the settings and plan check, claims and markers.

Everything here is on disk under `<run_dir>/.pipeline/`, so any process (a local worker, a Ray
task on a shared file system, a resumed run) sees the same state: `run.json` (what the run
is), `done/<shard>.json` (completion markers), `locks/<shard>.lock` (who writes a shard now).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

STATE = ".pipeline"

#: How a worker passes on one finished input: (status, facts).
Report = Callable[[str, dict], None]


class SettingsMismatch(RuntimeError):
    """The run directory was made by other settings or another plan: resuming would mix them."""


class IncompleteShard(RuntimeError):
    """A step returned without reporting every input of its shard (a bug of the step)."""


class Shard(Protocol):
    name: str
    count: int

    def items(self) -> Iterable: ...


class Step(Protocol):
    """Processes one shard's inputs into that shard's output files (see the package docstring)."""

    name: str

    def settings(self) -> dict: ...

    def run(self, shard: Any, out: ShardOutput) -> None: ...


class ShardOutput:
    """What a step writes one shard through: its files, and one `done` per input."""

    def __init__(self, run_dir: Path, shard: Any, report: Report | None = None):
        self.run_dir, self.shard = Path(run_dir), shard
        self.statuses: Counter = Counter()
        self._report = report

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    def done(self, status: str, **facts: Any) -> None:
        """One input of the shard is finished (its record or row is written), with this status."""
        self.statuses[status] += 1
        if self._report:
            self._report(status, facts)

    def path(self, suffix: str) -> Path:
        return self.run_dir / f"{self.shard.name}{suffix}"

    @contextlib.contextmanager
    def open(self, suffix: str, mode: str = "w", **kw: Any) -> Iterator[IO]:
        """`<run_dir>/<shard><suffix>`, written under a temporary name and put in place only
        when the block ends without an exception."""
        final = self.path(suffix)
        tmp = final.with_name(f".{final.name}.tmp")
        fh = open(tmp, mode, **kw)
        try:
            yield fh
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
        fh.close()
        os.replace(tmp, final)


def _state(run_dir: Path, *parts: str) -> Path:
    return Path(run_dir, STATE, *parts)


def marker_path(run_dir: Path, shard: str) -> Path:
    return _state(run_dir, "done", f"{shard}.json")


def done_shards(run_dir: str | Path) -> dict[str, dict]:
    """The marked shards of a run: name -> marker (inputs, statuses, seconds)."""
    folder = _state(Path(run_dir), "done")
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def digest(step: Step) -> str:
    """The run's identity: the step and its settings (never worker counts or the executor)."""
    blob = json.dumps({"step": step.name, "settings": step.settings()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_digest(plan: list) -> str:
    h = hashlib.sha256()
    for s in plan:
        h.update(json.dumps(_identity(s), sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


#: Field metadata of a shard field that says how to read its inputs, not which they are: left out
#: of the plan's digest, so a run started before such a field existed still resumes.
NOT_IDENTITY = {"identity": False}


def _identity(obj: object) -> object:
    """What a shard's inputs are: its dataclass fields, nested ones too, but NOT_IDENTITY ones."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _identity(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.metadata.get("identity", True)}
    if isinstance(obj, list | tuple):
        return [_identity(x) for x in obj]
    return obj


def prepare(run_dir: str | Path, step: Step, plan: list) -> list:
    """Check or record the run's step, settings and plan; return the shards still to do."""
    run_dir = Path(run_dir)
    path = _state(run_dir, "run.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    made = {"inputs": sum(s.count for s in plan), "shards": len(plan), "digest": plan_digest(plan)}
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("digest") != digest(step):
            raise SettingsMismatch(f"{run_dir} was made with other settings (digest {saved.get('digest')}, now "
                                   f"{digest(step)}); use another output folder or the same settings")
        then = saved.get("plan", {})
        if then.get("digest") != made["digest"]:
            raise SettingsMismatch(f"the corpus changed since {run_dir} was started ({then.get('inputs')} inputs "
                                   f"then, {made['inputs']} now): resuming would lose or repeat inputs; "
                                   "use another output folder")
    else:
        _write_json(path, {"step": step.name, "digest": digest(step), "settings": step.settings(), "plan": made})
    done = done_shards(run_dir)
    return [s for s in plan if s.name not in done]


@contextlib.contextmanager
def claim(run_dir: Path, shard: str) -> Iterator[bool]:
    """Hold the shard's lock while it is written: True if it is still to do. A second writer
    (a worker of a run that was killed, a resume started twice) waits, then finds it done."""
    lock = _state(run_dir, "locks", f"{shard}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield not marker_path(run_dir, shard).exists()


def run_shard(step: Step, shard: Any, run_dir: str | Path, report: Report | None = None) -> dict | None:
    """Run `step` on one shard (in a worker) and mark it done; None if it was done already."""
    run_dir = Path(run_dir)
    with claim(run_dir, shard.name) as todo:
        if not todo:
            return None
        out = ShardOutput(run_dir, shard, report)
        started = time.monotonic()
        step.run(shard, out)
        if out.count != shard.count:
            raise IncompleteShard(f"step {step.name} reported {out.count} of the {shard.count} inputs of "
                                  f"{shard.name}; the shard stays unmarked")
        marker = {"shard": shard.name, "inputs": out.count, "statuses": dict(out.statuses),
                  "seconds": round(time.monotonic() - started, 3)}
        _write_json(marker_path(run_dir, shard.name), marker)
        return marker


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    os.replace(tmp, path)
