"""`trace batch`: trace a corpus into a dump, resumably, with progress and a summary."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..batch import Settings, SettingsMismatch, prepare, summarize, summary_rows
from ..executors import EXECUTORS, Stopped
from ..limits import parse_size
from . import options


def register(app: typer.Typer) -> None:
    @app.command("batch")
    def batch_cmd(
        corpus: Annotated[list[Path], typer.Argument(help="Directories, .jsonl or .parquet files.", exists=True)],
        out: Annotated[Path, typer.Option("--out", "-o", help="The dump directory (resumes if it exists).")],
        workers: Annotated[int, typer.Option(help="Parallel workers.")] = max(os.cpu_count() or 1, 1),
        languages: Annotated[str | None, typer.Option(help="Only these language ids, comma-separated.")] = None,
        executor: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
        shard_size: Annotated[int, typer.Option(
            help="Inputs per shard (the unit of resumption); 0: by corpus size, 2 to 64.", min=0)] = 0,
        max_source_size: Annotated[str | None, typer.Option(
            help="Inputs larger than this (e.g. 4M; default 1M) are failures, never read whole.")] = None,
        timeout: options.Timeout = None,
        memory: options.Memory = None,
        max_events: options.MaxEvents = None,
        max_output: options.MaxOutput = None,
        backend: options.Backend = "local",
        sandbox: options.Sandbox = "bwrap",
        json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    ) -> None:
        """Trace every input of CORPUS into the dump OUT; a killed run resumes where it stopped."""
        if executor not in EXECUTORS:
            raise typer.BadParameter(f"unknown executor {executor!r} (local or ray)")
        options.make_backend(backend, sandbox)  # fail now, not in every worker
        overrides = options.limit_overrides(timeout, memory, max_events, max_output)
        settings = Settings(corpus=tuple(str(c.resolve()) for c in corpus),
                            languages=tuple(sorted(x.strip() for x in languages.split(","))) if languages else (),
                            overrides=tuple(sorted((k, v) for k, v in overrides.items() if v is not None)),
                            backend=backend, sandbox=sandbox, shard_size=shard_size,
                            **({"max_input_bytes": _size(max_source_size)} if max_source_size else {}))
        try:
            todo = prepare(out, settings)
        except SettingsMismatch as e:
            raise typer.BadParameter(str(e)) from None
        console = Console(stderr=True)
        tally: Counter = Counter()
        columns = (TextColumn("[bold]tracing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
        started = time.monotonic()
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("batch", total=sum(s.count for s in todo), stats="")

            def report(language: str, status: str, events: int) -> None:
                if status != "filtered":
                    tally["ok" if status == "ok" else "failed"] += 1
                rate = (tally["ok"] + tally["failed"]) / max(time.monotonic() - started, 1e-9)
                bar.update(task, advance=1, stats=f"ok {tally['ok']}  failed {tally['failed']}  {rate:.1f} files/s")

            try:
                EXECUTORS[executor](todo, settings, str(out), max(workers, 1), report)
            except (KeyboardInterrupt, Stopped) as e:
                bar.stop()
                print(f"trace: batch {e or 'interrupted'}: unfinished shards are unmarked; the same command "
                      "resumes", file=sys.stderr)
                raise typer.Exit(130) from None
        rows = list(summary_rows(summarize(out)))
        if json_out:
            print(json.dumps(rows))
            return
        table = Table("language", "files", "ok", "failed (by status)", "events", "seconds", title=f"dump {out}")
        for r in rows:
            failed = ", ".join(f"{k} {v}" for k, v in sorted(r["failed"].items())) or "-"
            table.add_row(r["language"], str(r["files"]), str(r["ok"]), failed, str(r["events"]), f"{r['seconds']:.1f}")
        Console().print(table)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
