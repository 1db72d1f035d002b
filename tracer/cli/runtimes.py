"""`trace runtimes build|list|bootstrap`: the docker backend's per-language images."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Build and list the docker backend's runtime images.")


def _fail(e: Exception) -> None:
    Console(stderr=True).print(f"trace: error: {e}")
    raise typer.Exit(1)


@app.command("build")
def build_cmd(
    ids: Annotated[list[str] | None,
                   typer.Argument(help="Language ids (default: every image needing no registry).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild every layer.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only one line per image.")] = False,
) -> None:
    """Build codealchemy/runtime-<id>:<version> from runtimes/<id>/Dockerfile, with progress."""
    from .. import images

    console = Console()

    def progress(line: str) -> None:
        if not quiet or " in " in line and ("built" in line or "FAILED" in line):
            console.print(line, markup=False, highlight=False)

    try:
        results = images.build(ids or None, progress, no_cache=no_cache)
    except RuntimeError as e:
        _fail(e)
    table = Table("runtime", "image", "result", "seconds")
    for lang_id, (ok, secs, last) in results.items():
        table.add_row(lang_id, images.tag(lang_id), "built" if ok else f"FAILED: {last[-100:]}", f"{secs:.0f}")
    console.print(table)
    if not all(ok for ok, _, _ in results.values()):
        raise typer.Exit(1)


@app.command("list")
def list_cmd() -> None:
    """Show each runtime's image and whether it is built."""
    from .. import images

    try:
        have = images.built()
    except RuntimeError as e:
        _fail(e)
    table = Table("runtime", "image", "built", "size", "created")
    for lang_id in images.dockerfiles():
        info = have.get(lang_id)
        note = "" if lang_id not in images.NEEDS_REGISTRY else " (needs a registry)"
        table.add_row(lang_id, images.tag(lang_id), ("yes" if info else "no") + note,
                      f"{info['size'] / 1e6:.0f} MB" if info else "", (info["created"][:19] if info else ""))
    Console().print(table)
    Console().print(f"{len(have)} of {len(images.dockerfiles())} built")


@app.command("bootstrap")
def bootstrap_cmd(
    mirror: Annotated[str | None, typer.Option(help="Debian mirror (default: the one apt uses here).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild it even if the tag exists.")] = False,
    tag: Annotated[str, typer.Option(help="Import under this tag instead (to try it out).", hidden=True)]
        = "debian:bookworm-slim",
) -> None:
    """Build debian:bookworm-slim locally (debootstrap + docker import), for machines with no registry."""
    from .. import images

    try:
        images.bootstrap(lambda line: Console().print(line, markup=False, highlight=False),
                         mirror=mirror, force=force, as_tag=tag)
    except RuntimeError as e:
        _fail(e)
