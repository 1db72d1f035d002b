"""Corpora: where batch inputs come from, cut into shards that a worker can read alone.

A corpus is a directory tree (each entry that is not a directory is an input; hidden files
and folders are left out; the language comes from the extension or shebang) or JSON-lines /
Parquet files with a `content` column and a `language` or `path` column, as code corpora such
as The Stack ship them. Enumeration is deterministic, so shard N is the same inputs on every run.

A corpus is untrusted (cloned repositories hold symlinks; anyone can make a FIFO): the walk
never enters a linked directory, and a file is opened without following a link, checked to be
a regular file and measured before a byte is read, so a link to /etc/shadow or /dev/zero, a
FIFO, a device or a socket is that input's failure, never host data in a dump or a hang.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .limits import Limits

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
    max_bytes: int = Limits.max_source_bytes   # a file larger than this is not read

    def items(self) -> Iterator[Item]:
        if self.kind == "files":
            for p in self.paths:
                try:
                    yield Item(source=p, path=p, content=read_regular(p, self.max_bytes))
                except Unreadable as e:
                    yield Item(source=p, path=p, error=str(e))
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
    except (ValueError, RecursionError) as e:   # RecursionError: nested deeper than json can read
        return Item(source=f"{file}#{row}", error=f"row {row} of {file} is not a JSON object: {e}")
    return _record_item(file, row, rec)


def _record_item(file: str, row: int, rec: dict) -> Item:
    content = rec.get("content")
    source = str(rec.get("path") or rec.get("id") or f"{file}#{row}")
    data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    language = rec.get("language") or rec.get("lang")
    if not isinstance(data, bytes):
        return Item(source=source, error=f"row {row} of {file} has no content column")
    if language is not None and not isinstance(language, str):
        return Item(source=source, error=f"row {row} of {file}: its language is a {type(language).__name__}, "
                                         "not a string")
    return Item(source=source, content=data, language=language)


class Unreadable(Exception):
    """A corpus entry that is not read: a link, not a regular file, too large, or an OS error."""


_KINDS = ((stat.S_ISLNK, "a symbolic link (links in a corpus are not followed)"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a directory"))


def _not_regular(path: str, mode: int) -> Unreadable:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return Unreadable(f"{path} is {kind}, not a regular file")


def read_regular(path: str, max_bytes: int) -> bytes:
    """The bytes of `path` if it is a regular file (not a link) of at most `max_bytes`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as e:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            raise Unreadable(f"{path}: {e.strerror}") from None
        raise (_not_regular(path, mode) if not stat.S_ISREG(mode) else Unreadable(f"{path}: {e.strerror}")) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode)
        if st.st_size > max_bytes:
            raise Unreadable(f"{path} is {st.st_size} bytes, over the {max_bytes}-byte limit")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise Unreadable(f"{path} grew past the {max_bytes}-byte limit while read")
        return data
    except OSError as e:
        raise Unreadable(f"{path}: {e.strerror}") from None
    finally:
        os.close(fd)


def _files(root: Path) -> Iterator[str]:
    """Every non-hidden entry under `root` that is not a directory, in name order, a folder's
    files before its sub-folders; a link to a directory is an entry, never entered. Iterative,
    so any depth works."""
    stack = [str(root)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError:
            yield top     # its read gives the reason
            continue
        dirs = []
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                dirs.append(e.path)
            else:
                yield e.path
        stack.extend(reversed(dirs))


def shards(corpus: list[Path], size: int, max_bytes: int = Shard.max_bytes) -> Iterator[Shard]:
    """Cut the corpus into shards of at most `size` inputs, named by position; `max_bytes` caps
    the size of a file that is read."""
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
                    yield Shard(name(), "files", paths=tuple(batch), count=len(batch), max_bytes=max_bytes)
                    batch = []
            if batch:
                yield Shard(name(), "files", paths=tuple(batch), count=len(batch), max_bytes=max_bytes)
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
            yield Shard(name(), "files", paths=(str(root),), count=1, max_bytes=max_bytes)
