"""`trace run` and `trace instrument`: one file at a time."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .. import drivers, plugins, records
from ..instrument import Failure, Skip, instrument
from ..languages import UnknownLanguage
from ..limits import resolve
from ..tracing import InputError, detect, read_source
from . import options
from .render import render

#: exit codes: the program ran and failed / the input could not be traced / the sandbox failed.
EXIT_PROGRAM, EXIT_INPUT, EXIT_SANDBOX = 1, 2, 3


def fail(message: str, code: int) -> typer.Exit:
    print(f"trace: {message}", file=sys.stderr)
    return typer.Exit(code)


DriverGenerator = Annotated[str | None, typer.Option(
    "--driver-generator", help="Generator (see `trace plugins list`) that writes a driver for a file with no entry "
    "point; kept only if it runs and reaches the file's functions.")]
DriverOption = Annotated[list[str] | None, typer.Option(
    "--driver-option", help="Option key=value of the driver generator (repeatable), e.g. path=drivers.jsonl.")]
DriverAttempts = Annotated[int, typer.Option(
    "--driver-attempts", min=1, help="Tries per file: each after the first shows the model its rejected driver "
    "and the runtime's error.")]
DriverParam = Annotated[list[str] | None, typer.Option(
    "--driver-param", help="Sampling parameter key=value for the driver generator (repeatable), e.g. max_tokens=512.")]


def driver_settings(generator: str | None, option: list[str] | None, param: list[str] | None,
                    attempts: int = 2) -> tuple | None:
    """(generator, options JSON, params JSON, attempts) for `drivers.shared`, checked now (a bad
    option fails here, in one line, not at the first file); None without a generator."""
    from ..generators import GenerationParams, GeneratorError, parse_options

    if generator is None:
        if option or param:
            raise typer.BadParameter("--driver-option and --driver-param need --driver-generator")
        return None
    if generator not in plugins.generators():
        raise typer.BadParameter(f"unknown generator {generator!r} (known: {', '.join(sorted(plugins.generators()))})")
    try:
        options = parse_options(option or [])
        params = GenerationParams.from_pairs(param or []).to_dict()
        made = plugins.generators()[generator](**options)
    except (GeneratorError, TypeError, ValueError) as e:
        raise typer.BadParameter(f"driver generator {generator}: {e}") from None
    close = getattr(made, "close", None)
    if close is not None:
        close()
    return generator, json.dumps(options, sort_keys=True), json.dumps(params, sort_keys=True), attempts


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
        driver_generator: DriverGenerator = None,
        driver_option: DriverOption = None,
        driver_param: DriverParam = None,
        driver_attempts: DriverAttempts = 2,
    ) -> None:
        """Instrument FILE, run it in the sandbox and show its trace."""
        overrides = options.limit_overrides(timeout, memory, max_events, max_output)
        with_driver = driver_settings(driver_generator, driver_option, driver_param, driver_attempts)
        if show_instrumented:
            _print_instrumented(file, language, overrides)
        trace = drivers.trace_input(str(file), None, language=language, backend=options.make_backend(backend, sandbox),
                                    overrides=overrides, drivers=drivers.shared(*with_driver) if with_driver else None)
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
