"""`trace runtimes build|list|bootstrap`: the docker backend's per-language images."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .options import console

app = typer.Typer(no_args_is_help=True, help="Build and list the docker backend's runtime images.")


def _fail(e: Exception) -> None:
    Console(stderr=True).print(f"trace: error: {e}")
    raise typer.Exit(1)


@app.command("build")
def build_cmd(
    ids: Annotated[list[str] | None,
                   typer.Argument(help="Language ids (default: every image needing no registry).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild every layer.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Build even if the image of the current files is here.")]
        = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only one line per image.")] = False,
) -> None:
    """Build codealchemy/runtime-<id>:<version>-<content> from runtimes/<id>/Dockerfile (and the files it
    copies, such as libraries.txt), with progress; an image of the current files is kept."""
    from .. import images

    console = Console()

    def progress(line: str) -> None:
        if not quiet or " in " in line and ("built" in line or "FAILED" in line or "up to date" in line):
            console.print(line, markup=False, highlight=False)

    try:
        results = images.build(ids or None, progress, no_cache=no_cache, force=force)
    except RuntimeError as e:
        _fail(e)
    table = Table("runtime", "image", "result", "seconds")
    for lang_id, (ok, secs, last) in results.items():
        result = (last if last == "up to date" else "built") if ok else f"FAILED: {last[-100:]}"
        table.add_row(lang_id, images.tag(lang_id), result, f"{secs:.0f}")
    console.print(table)
    if not all(ok for ok, _, _ in results.values()):
        raise typer.Exit(1)


@app.command("list")
def list_cmd() -> None:
    """Show each runtime's image and whether it is built for the current files (stale: built from older ones)."""
    from .. import images

    try:
        have = images.built()
    except RuntimeError as e:
        _fail(e)
    table = Table("runtime", "image", "built", "libraries", "size", "created")
    for lang_id in images.dockerfiles():
        info = have.get(lang_id)
        state = "no" if not info else "stale" if info["stale"] else "yes"
        note = "" if lang_id not in images.NEEDS_REGISTRY else " (needs a registry)"
        table.add_row(lang_id, images.tag(lang_id), state + note, str(len(images.libraries(lang_id))),
                      f"{info['size'] / 1e6:.0f} MB" if info else "", (info["created"][:19] if info else ""))
    console().print(table)
    stale = [lang_id for lang_id, info in have.items() if info["stale"]]
    Console().print(f"{len(have) - len(stale)} of {len(images.dockerfiles())} built for the current files"
                    + (f"; stale (built from older files): {' '.join(stale)}: trace runtimes build {' '.join(stale)}"
                       if stale else ""))


@app.command("libraries")
def libraries_cmd(
    lang_id: Annotated[str, typer.Argument(help="Language id.")],
    module: Annotated[str | None, typer.Argument(help="A module a program imports: which listed package has it.")]
        = None,
) -> None:
    """The libraries runtimes/<id>/libraries.txt installs in the image, or the one that provides MODULE."""
    from .. import images

    try:
        libs = images.libraries(lang_id)
    except (OSError, ValueError) as e:
        _fail(e)
    if module is not None:
        package = images.package_for(lang_id, module)
        if package is None:
            _fail(RuntimeError(f"no library in runtimes/{lang_id}/{images.LIBRARIES} provides {module!r}"))
        print(package)
        return
    table = Table("package", "version", "imported as", "options")
    for lib in libs:
        table.add_row(lib.name, lib.version or "", " ".join(lib.imports), " ".join(lib.options))
    console().print(table)


@app.command("prune")
def prune_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be removed.")] = False,
) -> None:
    """Remove runtime images built from older files (stale); the current ones stay."""
    from .. import images

    try:
        gone = images.prune(dry_run=dry_run)
    except RuntimeError as e:
        _fail(e)
    table = Table("image", "size", "result")
    for row in gone:
        result = "would be removed" if dry_run else "removed" if row["removed"] else f"kept: {row['error']}"
        table.add_row(row["tag"], f"{row['size'] / 1e6:.0f} MB", result)
    console().print(table)
    freed = sum(r["size"] for r in gone if r["removed"] or dry_run)
    console().print(f"{len(gone)} stale image(s), {freed / 1e9:.1f} GB {'to free' if dry_run else 'freed'}")


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
