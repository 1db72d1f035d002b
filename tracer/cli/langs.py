"""`trace langs` and `trace doctor`: what is known, what is installed, what to install."""

from __future__ import annotations

import shutil
import subprocess

import typer
from rich.console import Console
from rich.table import Table

from .. import plugins
from .options import console


def _version(argv: list[str]) -> str:
    if not argv or shutil.which(argv[0]) is None:
        return ""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else ""


def register(app: typer.Typer) -> None:
    @app.command("langs")
    def langs_cmd() -> None:
        """List the languages the tracer knows."""
        table = Table("id", "name", "extensions", "aliases", "maturity")
        for lang in plugins.languages():
            table.add_row(lang.id, lang.name, " ".join(lang.extensions), " ".join(lang.aliases), lang.maturity)
        console().print(table)

    @app.command("doctor")
    def doctor_cmd() -> None:
        """Check toolchains and the sandbox; say how to install what is missing."""
        table = Table("component", "status", "found", "to install")
        bwrap = shutil.which("bwrap")
        table.add_row("sandbox (bubblewrap)", "[green]ok[/]" if bwrap else "[red]missing[/]",
                      _version(["bwrap", "--version"]), "" if bwrap else "apt-get install bubblewrap")
        problems = 0 if bwrap else 1
        for lang in plugins.languages():
            rt = lang.runtime
            missing = rt.missing_tools()
            problems += bool(missing)
            hint = rt.toolchain.get("hint") or rt.install_hint(missing)
            table.add_row(lang.id, "[red]missing " + ", ".join(missing) + "[/]" if missing else "[green]ok[/]",
                          "" if missing else _version(rt.toolchain.get("version", [])), hint if missing else "")
        console().print(table)
        if problems:
            Console(stderr=True).print(f"{problems} component(s) missing; see 'to install'.")
