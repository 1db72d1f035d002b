"""The generic pipeline: a step over shards, markers only for finished shards, resume, progress."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from concurrent.futures import process as futures_process
from dataclasses import dataclass
from typing import ClassVar

import pytest

from codealchemy.tracer import pipeline
from codealchemy.tracer.pipeline import shards as shards_mod


@dataclass(frozen=True)
class Numbers:
    name: str
    first: int
    count: int

    def items(self):
        return range(self.first, self.first + self.count)


@dataclass(frozen=True)
class Square:
    """Writes n*n per input; fails on `poison` after writing half its shard; reports `report` per input."""

    factor: int = 1
    poison: int = -1
    report: int = 1
    name: ClassVar[str] = "square"

    def settings(self) -> dict:
        return {"factor": self.factor}

    def run(self, shard, out) -> None:
        with out.open(".jsonl") as fh:
            for n in shard.items():
                if n == self.poison:
                    raise RuntimeError("poisoned")
                fh.write(json.dumps({"n": n, "square": n * n * self.factor}) + "\n")
                for _ in range(self.report):
                    out.done("ok" if n % 3 else "odd")


PLAN = [Numbers(f"shard-{i}", 4 * i, 4) for i in range(5)]


def rows(run_dir):
    return sorted(json.loads(line)["n"] for p in run_dir.glob("*.jsonl") for line in p.read_text().splitlines())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_marks_every_shard_and_a_rerun_does_nothing(tmp_path, workers):
    summary = pipeline.run(Square(), PLAN, tmp_path, workers=workers)
    assert rows(tmp_path) == list(range(20))
    assert set(pipeline.done_shards(tmp_path)) == {s.name for s in PLAN}
    assert summary.complete and summary.finished == 20 and summary.shards_now == 5
    assert summary.statuses == {"ok": 13, "odd": 7}
    assert json.loads((tmp_path / ".pipeline" / "summary.json").read_text())["finished"] == 20
    again = pipeline.run(Square(), PLAN, tmp_path, workers=workers)
    assert again.shards_now == 0 and again.complete and again.statuses == summary.statuses


def test_a_shard_that_raises_is_unmarked_and_only_it_is_redone(tmp_path):
    with pytest.raises(RuntimeError, match="poisoned"):
        pipeline.run(Square(poison=9), PLAN, tmp_path)
    # the pool is gone with its manager thread: one left running holds locks the next run's fork copies
    assert not [t for t in threading.enumerate() if isinstance(t, futures_process._ExecutorManagerThread)]
    done = pipeline.done_shards(tmp_path)
    assert "shard-2" not in done and not (tmp_path / "shard-2.jsonl").exists()
    assert not (tmp_path / ".shard-2.jsonl.tmp").exists()   # its half-written output is gone
    redo = pipeline.run(Square(), PLAN, tmp_path)
    assert redo.shards_now == 5 - len(done) and rows(tmp_path) == list(range(20))


@pytest.mark.parametrize("report", [0, 2])
def test_a_step_that_does_not_report_each_input_once_leaves_no_marker(tmp_path, report):
    with pytest.raises(shards_mod.IncompleteShard):
        pipeline.run(Square(report=report), PLAN[:1], tmp_path)
    assert pipeline.done_shards(tmp_path) == {}


def test_other_settings_or_another_plan_are_refused(tmp_path):
    pipeline.run(Square(), PLAN[:2], tmp_path)
    with pytest.raises(pipeline.SettingsMismatch, match="other settings"):
        pipeline.run(Square(factor=2), PLAN[:2], tmp_path)
    with pytest.raises(pipeline.SettingsMismatch, match="changed"):
        pipeline.run(Square(), PLAN[:3], tmp_path)
    assert pipeline.digest(Square()) == pipeline.digest(Square(poison=3))   # not a setting: same run


def test_plain_progress_lines_when_not_a_terminal(tmp_path):
    stream = io.StringIO()
    pipeline.run(Square(), PLAN[:2], tmp_path, progress=pipeline.progress_for(stream, "squaring", every=0))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "squaring: 8 inputs to do"
    assert lines[-1].startswith("squaring: 8/8  ok 5  odd 3  ") and len(lines) == 1 + 8 + 1
    assert isinstance(pipeline.progress_for(stream), pipeline.LineProgress)


def test_the_plan_digest_is_what_the_shards_hold_not_how_they_are_read(tmp_path):
    from codealchemy.tracer import corpus
    from codealchemy.tracer.pipeline.shards import plan_digest

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.py").write_text("print(1)\n")
    [shard] = corpus.shards([tmp_path / "c"], size=4)
    assert shard.root and plan_digest([shard]) == plan_digest([dataclasses.replace(shard, root="")])
    assert plan_digest([shard]) != plan_digest([dataclasses.replace(shard, paths=(*shard.paths, "b.py"))])
