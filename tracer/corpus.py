"""Corpora: where batch inputs come from, cut into shards that a worker can read alone.

A corpus is a directory tree (each regular file is an input; hidden files and folders are
left out; the language comes from the extension or shebang) or JSON-lines / Parquet files
with a `content` column and a `language` or `path` column, as code corpora such as The Stack
ship them. Enumeration is deterministic, so shard N is the same inputs on every run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TABLE_SUFFIXES = (".jsonl", ".parquet")


@dataclass(frozen=True)
class Item:
    """One input: a file on disk, or a row with its content."""

    source: str
    path: str | None = None
    content: bytes | None = None
    language: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Shard:
    name: str
    kind: str            # "files", "jsonl" or "parquet"
    file: str = ""
    start: int = 0       # files: unused; jsonl: byte offset; parquet: row
    stop: int = 0
    first_row: int = 0
    paths: tuple[str, ...] = ()
    count: int = 0       # inputs in the shard

    def items(self) -> Iterator[Item]:
        if self.kind == "files":
            for p in self.paths:
                yield Item(source=p, path=p)
        elif self.kind == "jsonl":
            with open(self.file, "rb") as fh:
                fh.seek(self.start)
                row = self.first_row
                while fh.tell() < self.stop:
                    line = fh.readline()
                    if not line:
                        break
                    if line.strip():
                        yield _row_item(self.file, row, line)
                        row += 1
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(self.file).slice(self.start, self.stop - self.start)
            for i, rec in enumerate(table.to_pylist()):
                yield _record_item(self.file, self.start + i, rec)


def _row_item(file: str, row: int, line: bytes) -> Item:
    try:
        rec = json.loads(line)
        if not isinstance(rec, dict):
            raise ValueError("not an object")
    except ValueError as e:
        return Item(source=f"{file}#{row}", error=f"row {row} of {file} is not a JSON object: {e}")
    return _record_item(file, row, rec)


def _record_item(file: str, row: int, rec: dict) -> Item:
    content = rec.get("content")
    source = rec.get("path") or rec.get("id") or f"{file}#{row}"
    data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if not isinstance(data, bytes):
        return Item(source=str(source), error=f"row {row} of {file} has no content column")
    return Item(source=str(source), content=data, language=rec.get("language") or rec.get("lang"))


def _files(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield os.path.join(dirpath, name)


def shards(corpus: list[Path], size: int) -> Iterator[Shard]:
    """Cut the corpus into shards of at most `size` inputs, named by position."""
    n = 0

    def name() -> str:
        nonlocal n
        n += 1
        return f"shard-{n - 1:06d}"

    for root in corpus:
        if root.is_dir():
            batch: list[str] = []
            for path in _files(root):
                batch.append(path)
                if len(batch) == size:
                    yield Shard(name(), "files", paths=tuple(batch), count=len(batch))
                    batch = []
            if batch:
                yield Shard(name(), "files", paths=tuple(batch), count=len(batch))
        elif root.suffix == ".jsonl":
            with root.open("rb") as fh:
                start, rows, first = 0, 0, 0
                while line := fh.readline():
                    if line.strip():
                        rows += 1
                    if rows == size:
                        yield Shard(name(), "jsonl", file=str(root), start=start, stop=fh.tell(), first_row=first,
                                    count=rows)
                        start, first, rows = fh.tell(), first + rows, 0
                if rows:
                    yield Shard(name(), "jsonl", file=str(root), start=start, stop=fh.tell(), first_row=first,
                                count=rows)
        elif root.suffix == ".parquet":
            import pyarrow.parquet as pq

            total = pq.ParquetFile(root).metadata.num_rows
            for start in range(0, total, size):
                stop = min(start + size, total)
                yield Shard(name(), "parquet", file=str(root), start=start, stop=stop, count=stop - start)
        else:
            yield Shard(name(), "files", paths=(str(root),), count=1)
