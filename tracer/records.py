"""Trace records, schema 1: the one definition of what a trace holds.

A trace is a header (which also keeps the program text as "code", so a dump is
self-contained), events in program order, and a footer. Records are plain dicts whose
keys are exactly the public JSON contract of `trace run --json`, so the msgpack stream, the
JSON lines and the Python objects never need a translation layer. Readers keep unknown keys
(newer writers may add fields) and reject only what they cannot interpret: an unknown
schema version.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import msgpack

SCHEMA = 1

#: kind -> the fields every record of that kind carries (besides "kind").
FIELDS: dict[str, tuple[str, ...]] = {
    "header": ("schema", "tool", "language", "source", "sha256", "instrumenter", "limits"),
    "call": ("func", "line", "frame", "depth", "args"),
    "line": ("func", "line", "frame", "depth", "vars"),
    "return": ("func", "line", "frame", "depth", "value"),
    "exception": ("func", "line", "frame", "depth", "type", "message"),
    "output": ("stream", "text"),
    "footer": ("status", "exit_code", "events", "truncated"),
}
EVENT_KINDS = ("call", "line", "return", "exception", "output")

#: The closed set of statuses a footer (or a run phase) can have.
RUN_STATUSES = (
    "ok", "compile_error", "runtime_error", "timeout", "memory_limit", "output_limit", "sandbox_error",
    "missing_dependency",   # it imports a library the runtime lacks (the footer's `module` names it)
)
#: Statuses for inputs that never reached a run.
INPUT_STATUSES = ("input_error", "skipped", "instrument_error", "no_entry_point")   # no_entry_point: tracer/drivers.py
STATUSES = RUN_STATUSES + INPUT_STATUSES

#: Appended to a value or text that was cut at a limit.
TRUNCATION_MARKER = "…"


class RecordError(ValueError):
    """A record stream that cannot be read as schema 1."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def header(*, language: str, source: str, sha256: str, instrumenter: dict, limits: dict,
           tool: str, **extra: Any) -> dict:
    return {"kind": "header", "schema": SCHEMA, "tool": tool, "language": language, "source": source,
            "sha256": sha256, "instrumenter": instrumenter, "limits": limits, **extra}


def footer(*, status: str, exit_code: int | None = None, events: int = 0, truncated: bool = False,
           **extra: Any) -> dict:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return {"kind": "footer", "status": status, "exit_code": exit_code, "events": events,
            "truncated": truncated, **extra}


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, the marker included."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(TRUNCATION_MARKER), 0)] + TRUNCATION_MARKER


def validate(record: dict) -> dict:
    """Check that a record has its kind's fields; extra fields are kept."""
    kind = record.get("kind")
    fields = FIELDS.get(kind)
    if fields is None:
        raise RecordError(f"unknown record kind {kind!r}")
    missing = [f for f in fields if f not in record]
    if missing:
        raise RecordError(f"{kind} record lacks {', '.join(missing)}")
    if kind == "header" and record["schema"] != SCHEMA:
        raise RecordError(f"schema {record['schema']} is not supported (this tool reads {SCHEMA})")
    return record


# --- streams ---------------------------------------------------------------------------------

#: Strings are packed and unpacked with lone surrogates kept as they are (a non-UTF-8 file
#: name decoded with surrogateescape, a "\ud800" in a JSON row), so every str round-trips.
UNICODE_ERRORS = "surrogatepass"


def pack(records: Iterable[dict]) -> bytes:
    """Records as one msgpack sequence, all packed before any is written (no half writes)."""
    packer = msgpack.Packer(use_bin_type=True, unicode_errors=UNICODE_ERRORS)
    return b"".join(packer.pack(record) for record in records)


def write(records: Iterable[dict], fh: IO[bytes]) -> int:
    """Write records as a msgpack sequence; returns bytes written."""
    data = pack(records)
    fh.write(data)
    return len(data)


def read(fh: IO[bytes], *, strict: bool = True) -> Iterator[dict]:
    """Read a msgpack sequence of records, validating each unless `strict` is false."""
    for record in msgpack.Unpacker(fh, raw=False, max_buffer_size=1 << 30, unicode_errors=UNICODE_ERRORS):
        yield validate(record) if strict else record


def to_json_lines(records: Iterable[dict]) -> Iterator[str]:
    """JSON, readable text where it can be; escaped where a lone surrogate would not encode."""
    for record in records:
        line = json.dumps(record, ensure_ascii=False)
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            line = json.dumps(record)
        yield line


def split_traces(records: Iterable[dict]) -> Iterator[list[dict]]:
    """Group a record stream into traces (header .. footer)."""
    current: list[dict] = []
    for record in records:
        if record["kind"] == "header" and current:
            raise RecordError("header inside an unfinished trace")
        current.append(record)
        if record["kind"] == "footer":
            yield current
            current = []
    if current:
        raise RecordError("trace without footer (stream cut short)")


# --- dumps -----------------------------------------------------------------------------------

class DumpWriter:
    """A dump: shard files of msgpack traces, each with its own index (JSON lines).

    A shard and its index are written under temporary names; the shard is renamed first and
    its index last, so an index file is the shard's completion marker: a reader (or a resumed
    batch) never sees half a shard, and a shard without an index is simply redone. Leaving the
    `with` block on an exception (a crash, Ctrl-C) discards the shard: no index is written.
    """

    def __init__(self, root: str | Path, shard: str = "shard-00000"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.shard = shard
        self._tmp = self.root / f".{shard}.msgpack.tmp"
        self._fh = self._tmp.open("wb")
        self._entries: list[dict] = []

    def add(self, trace: list[dict]) -> dict:
        head, foot = trace[0], trace[-1]
        offset = self._fh.tell()
        length = write(trace, self._fh)   # packed whole first: a record that cannot pack writes nothing
        entry = {"source": head.get("source"), "source_id": (head.get("input") or {}).get("source_id"),
                 "language": head.get("language"),
                 "sha256": head.get("sha256"), "status": foot.get("status"),
                 "reason": foot.get("reason"), "events": foot.get("events", 0),
                 "seconds": round(sum((foot.get("timings") or {}).values()), 6),
                 "shard": f"{self.shard}.msgpack", "offset": offset, "length": length}
        if foot.get("module"):   # the library a missing_dependency run lacked, for `trace dump stats`
            entry["module"] = foot["module"]
        if isinstance(foot.get("driver"), dict):   # verified or rejected (tracer/drivers.py), for summaries
            entry["driver"] = foot["driver"].get("status")
        self._entries.append(entry)
        return entry

    def close(self) -> None:
        self._fh.close()
        self._tmp.rename(self.root / f"{self.shard}.msgpack")
        tmp_index = self.root / f".{self.shard}.index.tmp"
        tmp_index.write_text("".join(json.dumps(e) + "\n" for e in self._entries), encoding="ascii")
        tmp_index.rename(index_path(self.root, self.shard))

    def discard(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> DumpWriter:
        return self

    def __exit__(self, kind: type | None, *exc: object) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()


def index_path(root: str | Path, shard: str) -> Path:
    return Path(root) / f"{shard}.index.jsonl"


def dump_index(root: str | Path, problems: list[str] | None = None) -> list[dict]:
    """Every readable trace entry of a dump, shard by shard in name order.

    An entry that cannot be read (a cut or garbled index line, a shard file missing or shorter
    than the entry says) is left out and described in `problems` (if given; else a
    DumpWarning), so one bad entry never stops a reader."""
    paths = sorted(Path(root).glob("*.index.jsonl"))
    if not paths:
        raise RecordError(f"{root} is not a dump (no *.index.jsonl)")
    found: list[str] = []
    entries: list[dict] = []
    sizes: dict[str, int | None] = {}
    for p in paths:
        for n, line in enumerate(p.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                shard, end = entry["shard"], entry["offset"] + entry["length"]
                if shard not in sizes:
                    sizes[shard] = (Path(root) / shard).stat().st_size if (Path(root) / shard).is_file() else None
                if sizes[shard] is None:
                    raise RecordError(f"its shard file {shard} is missing")
                if end > sizes[shard]:
                    raise RecordError(f"it ends at byte {end} of {shard}, which has {sizes[shard]}")
            except (ValueError, KeyError, TypeError) as e:
                found.append(f"{p.name} line {n} is unreadable: {type(e).__name__}: {e}")
                continue
            entries.append(entry)
    if problems is not None:
        problems.extend(found)
    else:
        for text in found:
            warnings.warn(text, DumpWarning, stacklevel=2)
    return entries


class DumpWarning(UserWarning):
    """An entry of a dump that a reader skipped."""


def dump_trace(root: str | Path, entry: dict) -> list[dict]:
    """One trace of a dump; RecordError (never another exception) if it cannot be read whole."""
    where = f"{entry.get('shard')} at byte {entry.get('offset')}"
    try:
        with (Path(root) / entry["shard"]).open("rb") as fh:
            fh.seek(entry["offset"])
            data = fh.read(entry["length"])
        if len(data) != entry["length"]:
            raise RecordError(f"cut short ({len(data)} of {entry['length']} bytes)")
        trace = list(read(io.BytesIO(data)))
    except RecordError as e:
        raise RecordError(f"{where}: {e}") from None
    except Exception as e:   # garbled bytes raise any of msgpack's errors, or a non-dict record
        raise RecordError(f"{where} is not a trace: {type(e).__name__}: {e}") from None
    if not trace or trace[0]["kind"] != "header" or trace[-1]["kind"] != "footer":
        raise RecordError(f"{where} is not one whole trace (header to footer)")
    return trace
