"""`trace batch`: trace a corpus into a dump, resumably, with progress and a summary."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .. import drivers, pipeline
from ..batch import Settings, TraceStep, plan, summarize, summary_rows
from ..limits import parse_size
from . import options
from .run import DriverAttempts, DriverGenerator, DriverOption, DriverParam, driver_settings


def register(app: typer.Typer) -> None:
    @app.command("batch")
    def batch_cmd(
        corpus: Annotated[list[Path], typer.Argument(
            help="Directories of sources or of tables, .jsonl(.gz) or .parquet files.", exists=True)],
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
        driver_generator: DriverGenerator = None,
        driver_option: DriverOption = None,
        driver_param: DriverParam = None,
        driver_attempts: DriverAttempts = 2,
    ) -> None:
        """Trace every input of CORPUS into the dump OUT; a killed run resumes where it stopped."""
        if executor not in pipeline.EXECUTORS:
            raise typer.BadParameter(f"unknown executor {executor!r} ({' or '.join(pipeline.EXECUTORS)})")
        options.make_backend(backend, sandbox)  # fail now, not in every worker
        overrides = options.limit_overrides(timeout, memory, max_events, max_output)
        with_driver = driver_settings(driver_generator, driver_option, driver_param, driver_attempts)
        names = ("driver_generator", "driver_options", "driver_params", "driver_attempts")
        driving = (dict(zip(names, with_driver, strict=True), driver_prompt=drivers.PROMPT_VERSION) if with_driver
                   else {})
        settings = Settings(corpus=tuple(str(c.resolve()) for c in corpus),
                            languages=tuple(sorted(x.strip() for x in languages.split(","))) if languages else (),
                            overrides=tuple(sorted((k, v) for k, v in overrides.items() if v is not None)),
                            backend=backend, sandbox=sandbox, shard_size=shard_size,
                            **({"max_input_bytes": _size(max_source_size)} if max_source_size else {}), **driving)
        try:
            run = pipeline.run(TraceStep(settings), plan(settings), out, executor=executor, workers=workers,
                               progress=pipeline.progress_for(sys.stderr, "tracing"))
        except pipeline.SettingsMismatch as e:
            raise typer.BadParameter(str(e)) from None
        except (KeyboardInterrupt, pipeline.Stopped) as e:
            print(f"trace: batch {e or 'interrupted'}: unfinished shards are unmarked; the same command "
                  "resumes", file=sys.stderr)
            raise typer.Exit(130) from None
        rows = list(summary_rows(summarize(out))) if run.shards_done else []
        if json_out:
            print(json.dumps(rows))
            return
        driven = any("drivers" in r for r in rows)
        table = Table("language", "files", "ok", "failed (by status)", *(("drivers ok/rejected",) if driven else ()),
                      "events", "seconds", title=f"dump {out}")
        for r in rows:
            failed = ", ".join(f"{k} {v}" for k, v in sorted(r["failed"].items())) or "-"
            d = r.get("drivers")
            table.add_row(r["language"], str(r["files"]), str(r["ok"]), failed,
                          *((f"{d['verified']}/{d['rejected']}" if d else "-",) if driven else ()),
                          str(r["events"]), f"{r['seconds']:.1f}")
        options.console().print(table)
        print(f"trace: {run.finished} of {run.inputs} inputs in {run.shards_done} shards ({run.shards_now} run now, "
              f"{run.seconds:.1f} s)", file=sys.stderr)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
