"""`trace gen STRATEGY ...`: turn dumps into dataset rows (JSON lines or Parquet)."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .. import records

app = typer.Typer(no_args_is_help=True, help="Generate training data from traces with a strategy plugin.")

Dump = Annotated[Path, typer.Argument(help="A dump directory (from `trace run --out` or `trace batch`).")]
RowsOut = Annotated[Path, typer.Option("--out", "-o", help="Where to write the rows.")]


class Format(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"


FormatOpt = Annotated[Format | None, typer.Option(
    "--format", "-f", help="jsonl or parquet (default: from the --out suffix, else jsonl).")]


def fail(message: str, code: int = 2) -> typer.Exit:
    print(f"trace: {message}", file=sys.stderr)
    return typer.Exit(code)


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def write_rows(rows: Iterable[dict], path: Path, fmt: Format, batch: int = 5000) -> int:
    """Write rows atomically (a temporary name, renamed when complete); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    try:
        if fmt is Format.jsonl:
            with tmp.open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
        else:
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise fail("Parquet output needs pyarrow: pip install 'codealchemy[parquet]'") from None
            writer = None
            chunk: list[dict] = []

            def flush() -> None:
                nonlocal writer
                if not chunk and writer is not None:
                    return
                table = pa.Table.from_pylist(chunk, schema=writer.schema if writer else None)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                chunk.clear()

            for row in rows:
                chunk.append(row)
                n += 1
                if len(chunk) >= batch:
                    flush()
            flush()
            writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def _report(n: int, path: Path, per_template: Counter, skipped: Counter) -> None:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(per_template.items()))
    print(f"trace: wrote {n} rows to {path}" + (f" ({kinds})" if kinds else ""), file=sys.stderr)
    for reason, count in skipped.most_common():
        print(f"trace:   skipped {count}: {reason}", file=sys.stderr)


@app.command("list")
def list_cmd() -> None:
    """The strategies that plugins register."""
    from .. import plugins

    for name in sorted(plugins.strategies()):
        print(name)


@app.command("codetrace")
def codetrace_cmd(
    dump: Dump,
    out: RowsOut,
    fmt: FormatOpt = None,
    seed: Annotated[int, typer.Option(help="Picks each trace's templates and questions.")] = 0,
    templates: Annotated[str | None, typer.Option(
        help="Comma-separated templates to draw from: trace, output, variable, return (default: all).")] = None,
    rows_per_trace: Annotated[int, typer.Option(help="Rows per trace, each from a different template.")] = 1,
    max_steps: Annotated[int, typer.Option(help="Cut `trace` responses after this many steps (marked).")] = 200,
    statuses: Annotated[str, typer.Option(help="Comma-separated trace statuses to use.")] = "ok,runtime_error",
    keep_duplicates: Annotated[bool, typer.Option(
        "--keep-duplicates", help="Use every trace of a program, not only the first.")] = False,
) -> None:
    """Rows `{"text": "User:\\n<prompt>\\n\\nAssistant:\\n<response>", ...}` with provenance columns."""
    from .. import plugins

    factory = plugins.strategies().get("codetrace")
    if factory is None:
        raise fail("no strategy named codetrace is registered (see `trace plugins list`)")
    try:
        strategy = factory(seed=seed, templates=_split(templates), rows_per_trace=rows_per_trace,
                           max_steps=max_steps, statuses=_split(statuses) or ("ok",), dedup=not keep_duplicates)
    except ValueError as e:
        raise fail(str(e)) from None
    try:
        records.dump_index(dump)
    except records.RecordError as e:
        raise fail(str(e)) from None
    fmt = fmt or (Format.parquet if out.suffix == ".parquet" else Format.jsonl)
    per_template: Counter = Counter()

    def counted() -> Iterable[dict]:
        for row in strategy.rows(dump):
            per_template[row["template"]] += 1
            yield row

    strategy.load()
    try:
        n = write_rows(counted(), out, fmt)
    finally:
        strategy.unload()
    _report(n, out, per_template, strategy.skipped)
    if n == 0:
        raise fail(f"no rows: no trace in {dump} gave one", 1)
