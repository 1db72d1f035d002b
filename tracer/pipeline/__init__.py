"""One pipeline for tracing, generation and evaluation: shards, completion markers, resume.

A run turns a plan of shards into one output folder (the run directory). How a step plugs in:

    from codealchemy.tracer import pipeline

    @dataclass(frozen=True)                      # pickled to every worker
    class MyStep:
        name = "mystep"                          # a class attribute: not a setting
        model: str                               # fields: everything that changes the output

        def settings(self) -> dict:              # JSON-able; hashed into the run's digest
            return {"model": self.model}

        def run(self, shard, out: pipeline.ShardOutput) -> None:
            with out.open(".jsonl") as fh:      # <run_dir>/<shard.name>.jsonl, in place only on success
                for item in shard.items():
                    ...                          # one input; a failure is a row with its reason, not a raise
                    fh.write(...)
                    out.done("ok")               # exactly once per input: status, then any JSON-able facts

    summary = pipeline.run(MyStep("m"), shards, run_dir, executor="local", workers=4,
                           progress=pipeline.progress_for(sys.stderr, "mystep"))

What a step receives: one `shard` (any frozen dataclass with `name: str`, `count: int` and
`items()`, e.g. `codealchemy.tracer.corpus.Shard`; its fields define the plan) and a
`ShardOutput` (`out.run_dir`, `out.shard`, `out.open(suffix, mode)`, `out.done(status, **facts)`).

What it must write: its outputs under `out.run_dir`, named after `shard.name`, atomically
(`out.open` writes a temporary file and renames it when the block ends without an exception;
a step with its own writer does the same, as `records.DumpWriter` does), and one `out.done`
per input. The pipeline writes the shard's completion marker only after `run` returns and only
if every input was reported; an exception from `run` (or a kill, Ctrl-C, SIGTERM) leaves the
shard unmarked.

How resume works: the same step settings and plan on the same run directory redo exactly
the unmarked shards (a redo overwrites the shard's files: outputs must depend only on the
shard). Other settings, or a plan that changed (corpus files added or removed), are refused
with `SettingsMismatch`. Worker counts and the executor are not settings. A worker holds a
lock on its shard while it runs, so two writers of one shard never overlap, and local workers
die with the main process. Readers should read only marked shards' outputs (`done_shards`).

Executors: "local" (a process pool of forked workers) and "ray" (Ray tasks) run the same step.
Progress goes through `Progress` (`start`, `advance`, `close`): `progress_for` gives a rich bar
on a terminal and periodic plain lines otherwise. `run` returns a `Summary` (inputs and
statuses over the whole run directory, this invocation's shards and time), also kept as
`.pipeline/summary.json`. State lives in `<run_dir>/.pipeline/`: run.json (step, settings,
digest, plan), done/<shard>.json (markers), locks/.
"""

from .executors import EXECUTORS, Stopped
from .progress import LineProgress, Progress, RichProgress, progress_for
from .run import Summary, run
from .shards import SettingsMismatch, ShardOutput, Step, digest, done_shards, prepare

__all__ = ["EXECUTORS", "LineProgress", "Progress", "RichProgress", "SettingsMismatch", "ShardOutput", "Step",
           "Stopped", "Summary", "digest", "done_shards", "prepare", "progress_for", "run"]
