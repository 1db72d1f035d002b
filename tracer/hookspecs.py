"""The hooks a CodeAlchemy plugin can implement: the one place they are specified.

A plugin is any module or package, exposed through the `codealchemy` entry-point group,
with functions marked `@hookimpl`. Registration hooks receive a `register` callback (as in
llm), so one plugin can add any number of things. Built-ins register through these same
hooks. A third-party plugin with a misspelled hook name, a signature that does not fit, or a
hook that raises is reported and skipped (`plugins`); a built-in one fails loudly. Strategies
and benchmarks follow `contracts` (docs/plugins.md has a complete example).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from .languages import Language

PROJECT = "codealchemy"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_languages(register: Callable[[Language], None]) -> None:
    """Add languages: `register(Language.from_folders(instrumenter_dir, runtime_dir))`."""


@hookspec
def register_backends(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Add execution backends: `register(name, factory)`; factory(**options) -> Backend."""


@hookspec
def register_strategies(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Add generation strategies: `register(name, factory)`; `factory.Options` is a dataclass of its
    options and `factory(**options)` a `contracts.Strategy`; `trace gen NAME` runs it."""


@hookspec
def register_benchmarks(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Add benchmarks: `register(name, factory)`; `factory.Options` is a dataclass of its options and
    `factory(**options)` a `contracts.Benchmark`; `trace eval NAME build|predict|score` runs it."""


@hookspec
def register_generators(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Add LLM generators: `register(name, factory)`; factory(**options) -> Generator."""


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add CLI commands or command groups to the `trace` typer app."""
