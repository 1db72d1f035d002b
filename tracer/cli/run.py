"""`trace run` and `trace instrument`: one file at a time."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .. import records
from ..instrument import Failure, Skip, instrument
from ..languages import UnknownLanguage
from ..limits import resolve
from ..tracing import InputError, detect, read_source, trace_file
from . import options
from .render import render

#: exit codes: the program ran and failed / the input could not be traced / the sandbox failed.
EXIT_PROGRAM, EXIT_INPUT, EXIT_SANDBOX = 1, 2, 3


def fail(message: str, code: int) -> typer.Exit:
    print(f"trace: {message}", file=sys.stderr)
    return typer.Exit(code)


def exit_code(footer: dict) -> int:
    status = footer["status"]
    if status == "ok":
        return 0
    if status in records.INPUT_STATUSES:
        return EXIT_INPUT
    return EXIT_SANDBOX if status == "sandbox_error" else EXIT_PROGRAM


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        file: Annotated[Path, typer.Argument(help="Program to trace.")],
        language: options.Language = None,
        json_out: options.Json = False,
        show_instrumented: Annotated[bool, typer.Option(
            "--show-instrumented", help="Print the rewritten program first.")] = False,
        out: options.Out = None,
        timeout: options.Timeout = None,
        memory: options.Memory = None,
        max_events: options.MaxEvents = None,
        max_output: options.MaxOutput = None,
        backend: options.Backend = "local",
        sandbox: options.Sandbox = "bwrap",
    ) -> None:
        """Instrument FILE, run it in the sandbox and show its trace."""
        overrides = options.limit_overrides(timeout, memory, max_events, max_output)
        if show_instrumented:
            _print_instrumented(file, language, overrides)
        trace = list(trace_file(file, language=language, backend=options.make_backend(backend, sandbox),
                                overrides=overrides))
        if json_out:
            for line in records.to_json_lines(trace):
                print(line)
        else:
            render(trace, _source_lines(file), Console(highlight=False))
        if out is not None:
            with records.DumpWriter(out, shard=f"run-{uuid.uuid4().hex[:12]}") as writer:
                writer.add(trace)
        foot = trace[-1]
        code = exit_code(foot)
        if code:
            raise fail(f"{file}: {foot['status']}: {foot.get('reason') or 'failed'}", code)

    @app.command("instrument")
    def instrument_cmd(
        file: Annotated[Path, typer.Argument(help="Program to instrument.")],
        language: options.Language = None,
        probes: Annotated[bool, typer.Option("--probes", help="Print the probe map as JSON lines instead.")] = False,
    ) -> None:
        """Print FILE as the tracer rewrites it."""
        result = _instrument(file, language, {})
        if probes:
            for p in result.probes:
                print(json.dumps({"id": p.id, "kind": p.kind, "line": p.line, "func": p.func}))
        else:
            sys.stdout.write(result.code)


def _instrument(file: Path, language: str | None, overrides: dict):
    try:
        data = read_source(file, resolve(overrides))
        lang = detect(file, data, language)
    except (InputError, UnknownLanguage) as e:
        raise fail(str(e), EXIT_INPUT) from None
    result = instrument(data, lang)
    if isinstance(result, Skip):
        raise fail(f"{file}: skipped: {result.reason}", EXIT_INPUT)
    if isinstance(result, Failure):
        raise fail(f"{file}: instrumentation failed: {result.error}", EXIT_INPUT)
    return result


def _print_instrumented(file: Path, language: str | None, overrides: dict) -> None:
    result = _instrument(file, language, overrides)
    Console(highlight=False).rule(f"{file} (instrumented)")
    sys.stdout.write(result.code if result.code.endswith("\n") else result.code + "\n")
    Console(highlight=False).rule()


def _source_lines(file: Path) -> list[str]:
    try:
        return file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
