"""`trace plugins list|install|uninstall`: third-party plugins, installed with pip into this environment."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .. import plugins

app = typer.Typer(no_args_is_help=True, help="List, install and remove plugins.")


@app.command("list")
def list_cmd() -> None:
    """Show every plugin, its status (broken ones with the reason) and the hooks it implements."""
    rows = plugins.plugin_list()
    table = Table("plugin", "distribution", "status", "hooks")
    for row in rows:
        status = row["status"] + (f": {row['reason']}" if row["reason"] else "")
        table.add_row(row["name"], row["distribution"], status, ", ".join(row["hooks"]))
    Console(width=200).print(table)
    counts = {"languages": len(plugins.languages()), "backends": len(plugins.backends()),
              "strategies": len(plugins.strategies()), "benchmarks": len(plugins.benchmarks()),
              "generators": len(plugins.generators())}
    Console().print(", ".join(f"{n} {k}" for k, n in counts.items()))


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args])
    if done.returncode:
        raise typer.Exit(done.returncode)


@app.command("install")
def install_cmd(
    target: Annotated[str, typer.Argument(help="A package name, requirement or local path.")],
    editable: Annotated[bool, typer.Option("--editable", "-e", help="Install a local path in editable mode.")] = False,
) -> None:
    """Install a plugin package into the environment `trace` runs in."""
    _pip("install", *(["-e"] if editable else []), target)


@app.command("uninstall")
def uninstall_cmd(name: Annotated[str, typer.Argument(
        help="The plugin as `trace plugins list` shows it: its entry-point name or its distribution.")]) -> None:
    """Remove a plugin package (broken ones too)."""
    dist = plugins.distribution_of(name)
    if dist is None:
        print(f"trace: no installed plugin or distribution named {name!r} (see `trace plugins list`)", file=sys.stderr)
        raise typer.Exit(2)
    _pip("uninstall", "-y", dist)
