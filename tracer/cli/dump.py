"""`trace dump list|show|stats`: read what `trace run --out` and `trace batch` wrote."""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .. import records
from . import options
from .options import console
from .render import render

app = typer.Typer(no_args_is_help=True, help="Inspect trace dumps.")
Dump = Annotated[Path, typer.Argument(help="A dump directory.")]


def _index(dump: Path) -> list[dict]:
    """The dump's readable entries; each unreadable one is named on stderr and skipped."""
    problems: list[str] = []
    try:
        entries = records.dump_index(dump, problems)
    except records.RecordError as e:
        print(f"trace: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    for text in problems:
        print(f"trace: skipped: {_printable(text)}", file=sys.stderr)
    return entries


@app.command("list")
def list_cmd(dump: Dump, json_out: options.Json = False) -> None:
    """One row per input: source, language, status, reason, events."""
    rows = _index(dump)
    if json_out:
        for e in rows:
            print(json.dumps({k: e.get(k) for k in ("source", "language", "status", "reason", "events")}))
        return
    table = Table("source", "language", "status", "events", "reason")
    for e in rows:
        table.add_row(_printable(str(e["source"])), e["language"] or "", e["status"], str(e["events"]),
                      _printable(e.get("reason") or ""))
    console().print(table)


@app.command("show")
def show_cmd(dump: Dump, source: Annotated[str, typer.Argument(help="The source path as listed.")],
             json_out: options.Json = False) -> None:
    """One trace, as `trace run` shows it."""
    matches = [e for e in _index(dump) if e["source"] == source]
    if not matches:
        print(f"trace: {source} is not in {dump}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        trace = records.dump_trace(dump, matches[-1])
    except records.RecordError as e:
        print(f"trace: {_printable(str(e))}", file=sys.stderr)
        raise typer.Exit(2) from None
    if json_out:
        for line in records.to_json_lines(trace):
            print(line)
    else:   # the program text comes from the dump itself, never from the host's file system
        lines = (trace[0].get("code") or "").splitlines()
        render([{**trace[0], "source": _printable(str(trace[0].get("source")))}, *trace[1:]], lines,
               Console(highlight=False))


def _printable(text: str) -> str:
    """`text` with what cannot be printed (lone surrogates of non-UTF-8 file names) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@app.command("stats")
def stats_cmd(dump: Dump, json_out: options.Json = False,
              top: Annotated[int, typer.Option(help="How many of the most wanted libraries to list.")] = 20) -> None:
    """Per language: inputs, statuses, events; then the libraries that runs lacked most
    (status missing_dependency), the ones the runtime images should install."""
    per: dict[str, Counter] = defaultdict(Counter)
    wanted: dict[str, Counter] = defaultdict(Counter)
    for e in _index(dump):
        c = per[e["language"] or "?"]
        c["files"] += 1
        c[e["status"]] += 1
        c["events"] += e["events"] or 0
        if e.get("module"):
            wanted[e["language"] or "?"][e["module"]] += 1
    if json_out:
        print(json.dumps({k: {**v, **({"missing_libraries": dict(wanted[k].most_common())} if wanted[k] else {})}
                          for k, v in sorted(per.items())}))
        return
    statuses = sorted({s for c in per.values() for s in c} - {"files", "events"})
    table = Table("language", "files", *statuses, "events")
    for lang, c in sorted(per.items()):
        table.add_row(lang, str(c["files"]), *(str(c[s]) for s in statuses), str(c["events"]))
    console().print(table)
    most = sorted(((n, lang, m) for lang, c in wanted.items() for m, n in c.items()),
                  key=lambda t: (-t[0], t[1], t[2]))[:max(top, 0)]
    if most:
        libs = Table("language", "library", "programs", title="Most wanted libraries (missing_dependency)")
        for n, lang, module in most:
            libs.add_row(lang, _printable(module), str(n))
        console().print(libs)
