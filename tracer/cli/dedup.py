"""`trace dedup`: finished rows deduplicated and kept clear of benchmark programs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .options import fail


def register(app: typer.Typer) -> None:
    @app.command("dedup")
    def dedup_cmd(
        rows: Annotated[list[Path], typer.Argument(help="Row files (.jsonl or .parquet), read in order.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Kept rows (.jsonl or .parquet).")],
        threshold: Annotated[float, typer.Option(help="Near-duplicate MinHash similarity.")] = 0.8,
        no_near: Annotated[bool, typer.Option("--no-near", help="Exact duplicates only.")] = False,
        decontaminate: Annotated[list[Path] | None, typer.Option(
            help="Benchmark tasks (.jsonl) or programs (a file or folder) to keep out; repeatable.")] = None,
        contamination_threshold: Annotated[float, typer.Option(help="Seed overlap that removes a row.")] = 0.5,
    ) -> None:
        """Remove exact and near-duplicate rows, and rows whose seed overlaps a benchmark; the
        removed rows go to OUT.removed.jsonl, each with why. Prints the counts as JSON."""
        from .. import dedup
        from ..rows import read_rows, write_jsonl, write_rows

        try:
            every = [r for p in rows for r in read_rows(p)]
            refs = dedup.load_references(decontaminate or [])
        except (OSError, ValueError) as e:
            raise fail(str(e)) from None
        clean = (dedup.decontaminate(every, refs, threshold=contamination_threshold) if refs
                 else dedup.Result(every, []))
        unique = dedup.dedup(clean.kept, threshold=threshold, near=not no_near)
        write_rows(unique.kept, out, "parquet" if out.suffix == ".parquet" else "jsonl")
        write_jsonl(clean.removed + unique.removed, out.with_name(out.name + ".removed.jsonl"))
        print(json.dumps({"rows": len(every), "kept": len(unique.kept), "contaminated": len(clean.removed),
                          "duplicates": len(unique.removed)}))
