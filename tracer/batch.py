"""Batch tracing: a corpus, cut into shards, traced by an executor into one dump.

Each shard writes its traces and, last, its index file: the completion marker. A run that
is killed (even with SIGKILL) resumes on the next identical command: shards with an index are
kept, the others are redone from scratch, so no trace is lost or written twice. The dump
keeps the settings it was made with (`batch.json`, with their hash) and its plan: how the
corpus was cut. A corpus that changed since (files added or removed) would shift inputs
between shards, so resuming then is refused rather than losing or repeating inputs. Worker
counts and the executor are not settings, since they do not change the result.

Shard size is by default chosen from the corpus size: a small corpus gets small shards, so
that every worker stays busy to the end (a 200-file corpus in 64-file shards left one of two
workers idle for a quarter of the run); a large one gets 64-input shards.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import __version__, plugins, records
from .corpus import Item, Shard, shards
from .limits import Limits
from .tracing import TOOL, trace_input

SETTINGS_FILE = "batch.json"
MAX_SHARD = 64        # inputs per shard, when chosen by corpus size
SHARDS_WANTED = 64    # shards a small corpus is cut into (at least MIN_SHARD inputs each)
MIN_SHARD = 2


class SettingsMismatch(RuntimeError):
    pass


def auto_shard_size(inputs: int) -> int:
    return max(MIN_SHARD, min(MAX_SHARD, math.ceil(inputs / SHARDS_WANTED)))


@dataclass(frozen=True)
class Settings:
    corpus: tuple[str, ...]
    languages: tuple[str, ...] = ()
    overrides: tuple[tuple[str, object], ...] = ()
    backend: str = "local"
    sandbox: str = "bwrap"
    shard_size: int = 0    # 0: by corpus size (auto_shard_size)
    max_input_bytes: int = Limits.max_source_bytes   # larger inputs are failures, never read whole
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
    """Trace every input of one shard into `out`; runs in a worker (local process or Ray task).

    An exception while handling one input is that input's failure record, and the batch goes
    on; one outside an input (the corpus file gone, the dump unwritable) leaves the shard
    without its index, so a resume redoes it."""
    backend = _backend(settings.backend, settings.sandbox)
    wanted = set(settings.languages)
    registry = plugins.languages()
    overrides = {**dict(settings.overrides), "max_source_bytes": settings.max_input_bytes}
    result = ShardResult(shard.name)
    with claim(out, shard.name) as mine:
        if not mine:
            return result
        with records.DumpWriter(out, shard=shard.name) as writer:
            for item in shard.items():
                try:
                    if wanted and _language_of(registry, item) not in wanted:
                        if report:
                            report("", "filtered", 0)
                        continue
                    trace = list(trace_input(item.source, item.content, language=item.language,
                                             backend=backend, overrides=overrides, error=item.error))
                    trace[0]["input"] = item.input
                    entry = writer.add(trace)
                except Exception as e:   # a bug of ours or a host failure on this input: its record says which
                    entry = writer.add(failure(item, e, backend))
                done = (entry["language"], entry["status"], entry["events"])
                result.reports.append(done)
                if report:
                    report(*done)
    return result


@contextlib.contextmanager
def claim(out: str | Path, shard: str) -> Iterator[bool]:
    """Hold the shard's lock while it is written: True if it is still to do. A second writer
    (a worker of a run that was killed, a resume started twice) waits, then finds it done."""
    lock = Path(out) / f".{shard}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield not records.index_path(out, shard).exists()


def failure(item: Item, error: Exception, backend) -> list[dict]:
    """The record of an input whose handling raised `error`."""
    return [records.header(language="", source=item.source, sha256="", instrumenter={}, limits={}, tool=TOOL,
                           backend=backend.name, sandbox=getattr(backend, "sandbox", None), input=item.input),
            records.footer(status="input_error", exception=type(error).__name__,
                           reason=f"could not be traced: {type(error).__name__}: {error}")]


@functools.cache
def _backend(name: str, sandbox: str):
    """One backend per worker process, kept across shards: its warm state (compile servers,
    containers) serves the whole batch."""
    return plugins.backends()[name](sandbox=sandbox)


def _language_of(registry, item) -> str | None:
    try:
        if item.language:
            return registry.get(item.language).id
        return registry.for_path(item.source, (item.content or b"")[:256]).id
    except LookupError:
        return None


def prepare(out: Path, settings: Settings) -> list[Shard]:
    """Check or record the dump's settings and plan; return the shards still to do."""
    out.mkdir(parents=True, exist_ok=True)
    roots = [Path(c) for c in settings.corpus]
    size = settings.shard_size or auto_shard_size(sum(s.count for s in shards(roots, MAX_SHARD)))
    plan = list(shards(roots, size, settings.max_input_bytes))
    made = {"inputs": sum(s.count for s in plan), "shards": len(plan), "shard_size": size,
            "digest": _plan_digest(plan)}
    path = out / SETTINGS_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("digest") != settings.digest:
            raise SettingsMismatch(f"{out} was made with other settings (digest {saved.get('digest')}, "
                                   f"now {settings.digest}); use another --out or the same settings")
        then = saved.get("plan", {})
        if then.get("digest") != made["digest"]:
            raise SettingsMismatch(f"the corpus changed since {out} was started ({then.get('inputs')} inputs "
                                   f"then, {made['inputs']} now): resuming would lose or repeat inputs; "
                                   "use another --out")
    else:
        path.write_text(json.dumps({"digest": settings.digest, "settings": asdict(settings), "plan": made},
                                   indent=1, default=str))
    return [s for s in plan if not records.index_path(out, s.name).exists()]


def _plan_digest(plan: list[Shard]) -> str:
    h = hashlib.sha256()
    for s in plan:
        h.update(json.dumps([s.name, s.kind, s.file, s.start, s.stop, s.paths]).encode())
    return h.hexdigest()[:16]


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
