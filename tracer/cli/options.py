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


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one `trace: ...` line and return the Exit to raise."""
    import sys

    print(f"trace: {message}", file=sys.stderr)
    return typer.Exit(code)


def typed_parameters(options_cls: type, reserved: set[str]) -> list:
    """An Options dataclass as typer parameters, one `--field-name` option per field (its type,
    default and help); a tuple option is one comma-separated value. `reserved`: names the
    command uses itself, which a plugin's options may not take."""
    import inspect
    from pathlib import Path

    from ..contracts import option_specs

    out = []
    for spec in option_specs(options_cls):
        if spec.name in reserved:
            raise TypeError(f"option {spec.name} clashes with an option of the command itself")
        kind = str if isinstance(spec.type, tuple) else spec.type
        # a tuple is one comma-separated string ("" for none: typer would show () as "()")
        default = (",".join(map(str, spec.default or ())) if isinstance(spec.type, tuple) and spec.default is not None
                   else spec.default)
        flag = "--" + spec.name.replace("_", "-")
        decls = [f"{flag}/--no-{spec.name.replace('_', '-')}"] if kind is bool else [flag]
        hint = kind | None if (spec.optional or default is None) else kind
        if kind is Path:
            hint = Path | None if (spec.optional or default is None) else Path
        out.append(inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                     annotation=Annotated[hint, typer.Option(*decls, help=spec.help)]))
    return out


def with_signature(func, parameters: list):
    """`func(**values)` as a typer command taking these parameters."""
    import inspect

    func.__signature__ = inspect.Signature(parameters)
    return func


#: for `unusable` commands: they take any arguments and only say why they cannot run
ANY_ARGS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def unusable(what: str, reason: str):
    """A command standing in for a plugin's that cannot be offered: it says why, and the CLI goes on."""
    def command(ctx: typer.Context) -> None:
        raise fail(f"{what} cannot be offered: {reason}")
    return command


def console(stderr: bool = False):
    """A rich Console for tables: the terminal's width, or 200 columns when piped, so a table in
    a log or a file keeps one line per row instead of Rich's 80-column wrapping."""
    import sys

    from rich.console import Console

    return Console(stderr=stderr, width=None if (sys.stderr if stderr else sys.stdout).isatty() else 200)
