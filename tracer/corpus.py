"""Corpora: where batch inputs come from, cut into shards that a worker can read alone.

A corpus is a directory tree of sources (each entry that is not a directory is an input;
hidden files and folders are left out; the language comes from the extension or shebang), or
tables of rows: JSON-lines (`.jsonl`, `.jsonl.gz`) or Parquet files with a `content` column and
a `language` or `path` column, as code corpora such as The Stack ship them. A directory whose
entries are all table files (at any depth; regular files, not links) is a table corpus: those
tables in name order, as a downloaded dataset lays them out. Enumeration is deterministic, so
shard N is the same inputs on every run.

Each input carries its provenance (`Item.input`): a `source_id` unique in the corpus (the path
of a file; the table file and row of a row) and a row's provenance columns (`blob_id`, `repo`,
`path`, `license`, ...), which the trace header keeps as `input`.

A shard reads only its own range: a JSON-lines shard seeks to its byte offset; a Parquet
shard reads just the row groups it overlaps (and only the columns used); a gzip file cannot
seek, so each worker keeps its place in the stream and reads on to its next shard.

A corpus is untrusted (cloned repositories hold symlinks; anyone can make a FIFO): the walk
never enters a linked directory, and a file is opened without following a link, checked to be
a regular file and measured before a byte is read, so a link to /etc/shadow or /dev/zero, a
FIFO, a device or a socket is that input's failure, never host data in a dump or a hang. A
row longer than the size cap allows is a failure too, never read whole.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .limits import Limits
from .pipeline.shards import NOT_IDENTITY

TABLE_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")
#: Row columns kept as the input's provenance (The Stack v1/v2 and similar corpora's names).
PROVENANCE = ("blob_id", "hexsha", "id", "repo", "repo_name", "path", "commit", "revision_id", "license",
              "licenses", "license_type", "detected_licenses", "max_stars_repo_name", "max_stars_repo_path",
              "max_stars_repo_licenses", "src_encoding")
#: Columns a row's input is made of; a Parquet shard reads only these.
COLUMNS = ("content", "language", "lang", *PROVENANCE)


@dataclass(frozen=True)
class Item:
    """One input: a file on disk, or a row with its content; `input` is its provenance."""

    source: str
    path: str | None = None
    content: bytes | None = None
    language: str | None = None
    error: str | None = None
    input: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Shard:
    name: str
    kind: str            # "files", "jsonl", "jsonl.gz" or "parquet"
    file: str = ""
    start: int = 0       # jsonl: byte offset; jsonl.gz and parquet: row
    stop: int = 0
    first_row: int = 0
    paths: tuple[str, ...] = ()
    # files: the corpus folder they were found in ("" for a file named alone)
    root: str = field(default="", metadata=NOT_IDENTITY)
    count: int = 0       # inputs in the shard
    max_bytes: int = Limits.max_source_bytes   # a file larger than this is not read

    def items(self) -> Iterator[Item]:
        if self.kind == "files":
            for p in self.paths:
                try:
                    yield Item(source=p, path=p, content=read_regular(p, self.max_bytes, self.root),
                               input={"source_id": p})
                except Unreadable as e:
                    yield Item(source=p, path=p, error=str(e), input={"source_id": p})
        elif self.kind == "jsonl":
            with open(self.file, "rb") as fh:
                fh.seek(self.start)
                yield from self._rows(fh, self.first_row, self.count)
        elif self.kind == "jsonl.gz":
            fh = _gzip_at(self.file, self.start, row_limit(self.max_bytes))
            yield from self._rows(fh, self.start, self.count)
            _gzip_cursor[self.file] = (fh, self.stop)   # (not reached if stopped early: then it starts over)
        else:
            yield from (_record_item(self.file, self.start + i, rec)
                        for i, rec in enumerate(_parquet_rows(self.file, self.start, self.stop)))

    def _rows(self, fh: IO[bytes], row: int, count: int) -> Iterator[Item]:
        """The next `count` rows of `fh`, the first being row `row`."""
        limit = row_limit(self.max_bytes)
        for line, is_row in _lines(fh, limit) if count > 0 else ():
            if not is_row:
                continue
            if line is None:
                yield Item(source=f"{self.file}#{row}", input=_where(self.file, row),
                           error=f"row {row} of {self.file} is over {limit} bytes (the size cap), not read")
            else:
                yield _row_item(self.file, row, line)
            row, count = row + 1, count - 1
            if count == 0:
                return


def row_limit(max_bytes: int) -> int:
    """The longest JSON row read for a content of `max_bytes` (JSON escapes a byte in up to 6)."""
    return 6 * max_bytes + (64 << 10)


def _lines(fh: IO[bytes], limit: int) -> Iterator[tuple[bytes | None, bool]]:
    """Each line from here on: (its bytes, or None if longer than `limit`; whether it is a row,
    i.e. not blank). Memory stays within `limit`, however long a line is."""
    while line := fh.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line, bool(line.strip())
            continue
        is_row = bool(line.strip())
        while line and not line.endswith(b"\n"):
            line = fh.readline(limit + 1)
            is_row = is_row or bool(line.strip())
        yield None, is_row


#: Per process: the open gzip stream of the last .jsonl.gz shard read, and the row it is at.
_gzip_cursor: dict[str, tuple[IO[bytes], int]] = {}


def _gzip_at(file: str, row: int, limit: int) -> IO[bytes]:
    """`file` decompressed and positioned at `row`, reading on from the last shard if it can."""
    fh, at = _gzip_cursor.pop(file, (None, 0))
    for other, _ in _gzip_cursor.values():   # one open stream per worker
        other.close()
    _gzip_cursor.clear()
    if fh is None or at > row:
        if fh is not None:
            fh.close()
        fh, at = gzip.open(file, "rb"), 0
    if at < row:
        for _line, is_row in _lines(fh, limit):
            at += is_row
            if at == row:
                break
    return fh


#: Per process: the last Parquet row group read, so shards that share a group decode it once.
_parquet_group: dict[tuple[str, int], list[dict]] = {}


def _parquet_rows(file: str, start: int, stop: int) -> Iterator[dict]:
    """Rows [start, stop) of a Parquet file, reading only the row groups they lie in."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    columns = [c for c in COLUMNS if c in pf.schema_arrow.names]
    first = 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if first < stop and start < first + n:
            if (file, g) not in _parquet_group:
                _parquet_group.clear()
                _parquet_group[(file, g)] = pf.read_row_group(g, columns=columns).to_pylist()
            yield from _parquet_group[(file, g)][max(start - first, 0): stop - first]
        first += n


def _where(file: str, row: int) -> dict:
    return {"source_id": f"{file}#{row}", "corpus": file, "row": row}


def _row_item(file: str, row: int, line: bytes) -> Item:
    try:
        rec = json.loads(line)
        if not isinstance(rec, dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError) as e:   # RecursionError: nested deeper than json can read
        return Item(source=f"{file}#{row}", input=_where(file, row),
                    error=f"row {row} of {file} is not a JSON object: {e}")
    return _record_item(file, row, rec)


def _record_item(file: str, row: int, rec: dict) -> Item:
    content = rec.get("content")
    source = str(rec.get("path") or rec.get("id") or f"{file}#{row}")
    provenance = {**_where(file, row), **{k: _plain(rec[k]) for k in PROVENANCE if rec.get(k) is not None}}
    data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    language = rec.get("language") or rec.get("lang")
    if not isinstance(data, bytes):
        return Item(source=source, input=provenance, error=f"row {row} of {file} has no content column")
    if language is not None and not isinstance(language, str):
        return Item(source=source, input=provenance,
                    error=f"row {row} of {file}: its language is a {type(language).__name__}, not a string")
    return Item(source=source, content=data, language=language, input=provenance)


def _plain(value: object) -> object:
    """A provenance value as msgpack and JSON keep it: scalars and lists of them, else text."""
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str | int | float | bool) for v in value):
        return list(value)
    return str(value)


class Unreadable(Exception):
    """A corpus entry that is not read: a link, not a regular file, too large, or an OS error."""


_KINDS = ((stat.S_ISLNK, "a symbolic link (links in a corpus are not followed)"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a directory"))


def _not_regular(path: str, mode: int) -> Unreadable:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return Unreadable(f"{path} is {kind}, not a regular file")


_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_below(path: str, root: str) -> int:
    """`path` opened one component at a time from `root` (which may itself be a link: the user
    named it), no component followed if it is a link: Unreadable if a folder is one, OSError if
    the file is."""
    parts = os.path.relpath(path, root).split(os.sep)
    if parts[0] == os.pardir:
        raise OSError(errno.EXDEV, f"outside the corpus folder {root}")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, part in enumerate(parts[:-1]):
            try:
                parent, fd = fd, os.open(part, _READ | os.O_DIRECTORY, dir_fd=fd)
            except OSError as e:
                folder = os.path.join(root, *parts[:i + 1])
                why = "a symbolic link" if os.path.islink(folder) else e.strerror
                raise Unreadable(f"{path}: the folder {folder} is {why} (links in a corpus are not followed)") \
                    from None
            os.close(parent)
        return os.open(parts[-1], _READ | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=fd)
    finally:
        os.close(fd)


def read_regular(path: str, max_bytes: int, root: str = "") -> bytes:
    """The bytes of `path` if it is a regular file (not a link) of at most `max_bytes`. Under a
    corpus `root` every folder between the two is opened without following a link too, so a
    folder swapped for a link after the walk cannot lead the read out of the corpus."""
    try:
        fd = _open_below(path, root) if root else os.open(path, _READ | os.O_NONBLOCK | os.O_NOCTTY)
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


def is_table(path: str | Path) -> bool:
    return str(path).endswith(TABLE_SUFFIXES)


def _table_files(root: Path) -> list[str] | None:
    """The table files of a table corpus (every entry a regular table file), else None."""
    entries = list(_files(root))
    if entries and all(is_table(p) and stat.S_ISREG(os.lstat(p).st_mode) for p in entries):
        return entries
    return None


def shards(corpus: list[Path], size: int, max_bytes: int = Shard.max_bytes) -> Iterator[Shard]:
    """Cut the corpus into shards of at most `size` inputs, named by position; `max_bytes` caps
    the size of a file (and of a row's content) that is read."""
    n = 0

    def name() -> str:
        nonlocal n
        n += 1
        return f"shard-{n - 1:06d}"

    for root in corpus:
        if root.is_dir() and (tables := _table_files(root)) is not None:
            for table in tables:
                yield from _table_shards(Path(table), size, max_bytes, name)
        elif root.is_dir():
            batch: list[str] = []
            for path in _files(root):
                batch.append(path)
                if len(batch) == size:
                    yield Shard(name(), "files", paths=tuple(batch), root=str(root), count=len(batch),
                                max_bytes=max_bytes)
                    batch = []
            if batch:
                yield Shard(name(), "files", paths=tuple(batch), root=str(root), count=len(batch), max_bytes=max_bytes)
        elif is_table(root):
            yield from _table_shards(root, size, max_bytes, name)
        else:
            yield Shard(name(), "files", paths=(str(root),), count=1, max_bytes=max_bytes)


def _table_shards(table: Path, size: int, max_bytes: int, name) -> Iterator[Shard]:
    file = str(table)
    if file.endswith(".parquet"):
        import pyarrow.parquet as pq

        total = pq.ParquetFile(table).metadata.num_rows
        for start in range(0, total, size):
            stop = min(start + size, total)
            yield Shard(name(), "parquet", file=file, start=start, stop=stop, count=stop - start,
                        max_bytes=max_bytes)
    elif file.endswith(".gz"):
        with gzip.open(table, "rb") as fh:
            total = sum(is_row for _, is_row in _lines(fh, row_limit(max_bytes)))
        for start in range(0, total, size):
            stop = min(start + size, total)
            yield Shard(name(), "jsonl.gz", file=file, start=start, stop=stop, first_row=start, count=stop - start,
                        max_bytes=max_bytes)
    else:
        with table.open("rb") as fh:
            start, rows, first = 0, 0, 0
            for _, is_row in _lines(fh, row_limit(max_bytes)):
                rows += is_row
                if rows == size:
                    yield Shard(name(), "jsonl", file=file, start=start, stop=fh.tell(), first_row=first,
                                count=rows, max_bytes=max_bytes)
                    start, first, rows = fh.tell(), first + rows, 0
            if rows:
                yield Shard(name(), "jsonl", file=file, start=start, stop=fh.tell(), first_row=first, count=rows,
                            max_bytes=max_bytes)
