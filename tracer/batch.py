"""Batch tracing: a corpus, cut into shards, traced by an executor into one dump.

Each shard writes its traces and, last, its index file: the completion marker. A run that
is killed (even with SIGKILL) resumes on the next identical command: shards with an index are
kept, the others are redone from scratch, so no trace is lost or written twice. The dump
keeps the settings it was made with (`batch.json`, with their hash); worker counts and the
executor are not settings, since they do not change the result.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import __version__, plugins, records
from .corpus import Shard, shards
from .tracing import trace_input

SETTINGS_FILE = "batch.json"


class SettingsMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    corpus: tuple[str, ...]
    languages: tuple[str, ...] = ()
    overrides: tuple[tuple[str, object], ...] = ()
    backend: str = "local"
    sandbox: str = "bwrap"
    shard_size: int = 64
    tool: str = __version__

    @property
    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


#: What a worker reports after each input: (language, status, events).
Report = Callable[[str, str, int], None]


@dataclass
class ShardResult:
    name: str
    reports: list[tuple[str, str, int]] = field(default_factory=list)


def run_shard(shard: Shard, settings: Settings, out: str, report: Report | None = None) -> ShardResult:
    """Trace every input of one shard into `out`; runs in a worker (local process or Ray task)."""
    backend = plugins.backends()[settings.backend](sandbox=settings.sandbox)
    wanted = set(settings.languages)
    registry = plugins.languages()
    overrides = dict(settings.overrides)
    result = ShardResult(shard.name)
    with records.DumpWriter(out, shard=shard.name) as writer:
        for item in shard.items():
            if wanted and _language_of(registry, item) not in wanted:
                if report:
                    report("", "filtered", 0)
                continue
            trace = list(trace_input(item.source, item.content, language=item.language, backend=backend,
                                     overrides=overrides, error=item.error))
            entry = writer.add(trace)
            done = (entry["language"], entry["status"], entry["events"])
            result.reports.append(done)
            if report:
                report(*done)
    return result


def _language_of(registry, item) -> str | None:
    try:
        if item.language:
            return registry.get(item.language).id
        head = item.content[:256] if item.content is not None else _head(item.path)
        return registry.for_path(item.source, head).id
    except LookupError:
        return None


def _head(path: str | None) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(256)
    except (OSError, TypeError):
        return b""


def prepare(out: Path, settings: Settings) -> list[Shard]:
    """Check or record the dump's settings; return the shards still to do."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / SETTINGS_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("digest") != settings.digest:
            raise SettingsMismatch(f"{out} was made with other settings (digest {saved.get('digest')}, "
                                   f"now {settings.digest}); use another --out or the same settings")
    else:
        path.write_text(json.dumps({"digest": settings.digest, "settings": asdict(settings)}, indent=1,
                                   default=str))
    todo = [s for s in shards([Path(c) for c in settings.corpus], settings.shard_size)
            if not records.index_path(out, s.name).exists()]
    return todo


def summarize(out: Path) -> dict[str, Counter]:
    """Per language: files, each status, events, seconds, from the dump's index."""
    per: dict[str, Counter] = defaultdict(Counter)
    for e in records.dump_index(out):
        c = per[e.get("language") or "unknown"]
        c["files"] += 1
        c[e["status"]] += 1
        c["events"] += e.get("events") or 0
        c["seconds"] += e.get("seconds") or 0.0
    return dict(per)


def summary_rows(per: dict[str, Counter]) -> Iterable[dict]:
    for lang, c in sorted(per.items()):
        failed = {k: v for k, v in c.items() if k in records.STATUSES and k != "ok"}
        yield {"language": lang, "files": c["files"], "ok": c["ok"], "failed": failed,
               "events": c["events"], "seconds": round(c["seconds"], 3)}
