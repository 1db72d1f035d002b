"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Language = Annotated[str | None, typer.Option(
    "--language", "-l", help="Language id or alias (default: by extension or shebang).")]
Timeout = Annotated[float | None, typer.Option(help="Wall-clock seconds of the run (compiles have their own 60 s).")]
Memory = Annotated[str | None, typer.Option(help="Memory limit, e.g. 512M, 2G.")]
MaxEvents = Annotated[int | None, typer.Option("--max-events", help="Stop recording after this many events.")]
MaxOutput = Annotated[str | None, typer.Option(
    "--max-output", help="Stop the program past this much stdout or stderr, e.g. 1M.")]
Backend = Annotated[str, typer.Option(help="Execution backend (see `trace plugins list`).")]
Sandbox = Annotated[str, typer.Option(help="bwrap (default) or none: no sandbox, for trusted code only.")]
Json = Annotated[bool, typer.Option("--json", help="One JSON object per line: header, events, footer.")]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Also write the trace to this dump directory.")]


def limit_overrides(timeout: float | None, memory: str | None, max_events: int | None,
                    max_output: str | None) -> dict:
    return {"timeout": timeout, "memory": memory, "max_events": max_events, "max_output": max_output}


def make_backend(name: str, sandbox: str):
    from .. import plugins

    factories = plugins.backends()
    if name not in factories:
        raise typer.BadParameter(f"unknown backend {name!r} (known: {', '.join(sorted(factories))})")
    return factories[name](sandbox=sandbox)
