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
    """Show every plugin and the hooks it implements."""
    table = Table("plugin", "distribution", "hooks")
    for row in plugins.plugin_list():
        table.add_row(row["name"], row["distribution"], ", ".join(row["hooks"]))
    Console().print(table)
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
def uninstall_cmd(name: Annotated[str, typer.Argument(help="The plugin's distribution name.")]) -> None:
    """Remove a plugin package."""
    _pip("uninstall", "-y", name)
