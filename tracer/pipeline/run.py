"""`run`: a step over a plan of shards into a run directory, resumably, with a summary."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .executors import EXECUTORS
from .progress import Progress
from .shards import STATE, Step, digest, done_shards, prepare


@dataclass
class Summary:
    """A run directory's state after an invocation: all its marked shards, and this invocation."""

    run_dir: str
    step: str
    digest: str
    inputs: int                    # inputs of the plan
    finished: int                  # inputs of marked shards (all of them once the run is complete)
    statuses: dict = field(default_factory=dict)   # over every marked shard
    shards: int = 0
    shards_done: int = 0           # marked, by any invocation
    shards_now: int = 0            # run by this invocation
    seconds: float = 0.0           # this invocation's wall time

    @property
    def complete(self) -> bool:
        return self.shards_done == self.shards

    def as_dict(self) -> dict:
        return {**asdict(self), "complete": self.complete}


def run(step: Step, plan: list, run_dir: str | Path, *, executor: str = "local", workers: int = 1,
        progress: Progress | None = None) -> Summary:
    """Run `step` on every shard of `plan` not yet marked in `run_dir`; raises SettingsMismatch
    for a run directory of other settings or another plan, KeyboardInterrupt or Stopped when
    told to stop (unfinished shards stay unmarked, the same call resumes)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r} ({' or '.join(EXECUTORS)})")
    run_dir = Path(run_dir)
    todo = prepare(run_dir, step, plan)
    started = time.monotonic()
    if progress:
        progress.start(sum(s.count for s in todo), sum(s.count for s in plan) - sum(s.count for s in todo))
    try:
        if todo:
            EXECUTORS[executor](step, todo, run_dir, max(workers, 1),
                                progress.advance if progress else lambda status, facts: None)
    finally:
        if progress:
            progress.close()
    summary = summarize(run_dir, step, plan, shards_now=len(todo), seconds=time.monotonic() - started)
    (run_dir / STATE / "summary.json").write_text(json.dumps(summary.as_dict(), indent=1))
    return summary


def summarize(run_dir: Path, step: Step, plan: list, *, shards_now: int = 0, seconds: float = 0.0) -> Summary:
    names = {s.name for s in plan}
    done = {k: v for k, v in done_shards(run_dir).items() if k in names}
    statuses: Counter = Counter()
    for marker in done.values():
        statuses.update(marker.get("statuses", {}))
    return Summary(run_dir=str(run_dir), step=step.name, digest=digest(step), inputs=sum(s.count for s in plan),
                   finished=sum(m.get("inputs", 0) for m in done.values()), statuses=dict(statuses),
                   shards=len(plan), shards_done=len(done), shards_now=shards_now, seconds=round(seconds, 3))
