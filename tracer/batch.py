"""Batch tracing: tracing as one step of the pipeline (`tracer.pipeline`), over a corpus.

`TraceStep` traces one shard's inputs into the dump: a msgpack shard file and its index (see
`records.DumpWriter`), one record per input, a failure record for an input whose handling
raised. The pipeline marks a shard done only after that, so a run that is killed (even with
SIGKILL), interrupted or crashed resumes on the next identical command, redoing exactly the
unmarked shards: no trace is lost or written twice. The dump keeps its settings and plan in
`.pipeline/run.json`; other settings, or a corpus that changed since (files added or removed
would shift inputs between shards), are refused. Worker counts and the executor are not
settings, since they do not change the result.

Shard size is by default chosen from the corpus size: a small corpus gets small shards, so
that every worker stays busy to the end (a 200-file corpus in 64-file shards left one of two
workers idle for a quarter of the run); a large one gets 64-input shards.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

from . import __version__, drivers, plugins, records
from .corpus import Item, Shard, shards
from .drivers import trace_input
from .limits import Limits
from .pipeline import ShardOutput
from .tracing import TOOL

MAX_SHARD = 64        # inputs per shard, when chosen by corpus size
SHARDS_WANTED = 64    # shards a small corpus is cut into (at least MIN_SHARD inputs each)
MIN_SHARD = 2


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
    #: the generator that writes drivers for files without an entry point (tracer/drivers.py),
    #: its options and sampling params as JSON, and the driver prompt's version
    driver_generator: str | None = None
    driver_options: str = "{}"
    driver_params: str = "{}"
    driver_attempts: int = 2
    driver_prompt: str | None = None


def plan(settings: Settings) -> list[Shard]:
    """The corpus cut into shards, the same on every run of these settings."""
    roots = [Path(c) for c in settings.corpus]
    size = settings.shard_size or auto_shard_size(sum(s.count for s in shards(roots, MAX_SHARD)))
    return list(shards(roots, size, settings.max_input_bytes))


@dataclass(frozen=True)
class TraceStep:
    """Trace every input of a shard into the dump; reports (status, language, events) per input."""

    config: Settings
    name: ClassVar[str] = "trace"

    def settings(self) -> dict:
        """Without a driver generator, the settings of before drivers (a dump made then resumes)."""
        values = asdict(self.config)
        if self.config.driver_generator is None:
            values = {k: v for k, v in values.items() if not k.startswith("driver_")}
        return values

    def run(self, shard: Shard, out: ShardOutput) -> None:
        config = self.config
        backend = _backend(config.backend, config.sandbox)
        wanted = set(config.languages)
        registry = plugins.languages()
        overrides = {**dict(config.overrides), "max_source_bytes": config.max_input_bytes}
        with records.DumpWriter(out.run_dir, shard=shard.name) as writer:
            for item in shard.items():
                try:
                    if wanted and _language_of(registry, item) not in wanted:
                        out.done("filtered")
                        continue
                    trace = trace_input(item.source, item.content, language=item.language, backend=backend,
                                        overrides=overrides, error=item.error, drivers=_drivers(config))
                    trace[0]["input"] = item.input
                    entry = writer.add(trace)
                except Exception as e:   # a bug of ours or a host failure on this input: its record says which
                    entry = writer.add(failure(item, e, backend))
                out.done(entry["status"], language=entry["language"], events=entry["events"])


def failure(item: Item, error: Exception, backend) -> list[dict]:
    """The record of an input whose handling raised `error`."""
    return [records.header(language="", source=item.source, sha256="", instrumenter={}, limits={}, tool=TOOL,
                           backend=backend.name, sandbox=getattr(backend, "sandbox", None), input=item.input),
            records.footer(status="input_error", exception=type(error).__name__,
                           reason=f"could not be traced: {type(error).__name__}: {error}")]


def _drivers(config: Settings) -> drivers.Drivers | None:
    if config.driver_generator is None:
        return None
    return drivers.shared(config.driver_generator, config.driver_options, config.driver_params,
                          config.driver_attempts)


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


def summarize(out: Path) -> dict[str, Counter]:
    """Per language: files, each status, events, seconds, from the dump's index."""
    per: dict[str, Counter] = defaultdict(Counter)
    for e in records.dump_index(out):
        c = per[e.get("language") or "unknown"]
        c["files"] += 1
        c[e["status"]] += 1
        c["events"] += e.get("events") or 0
        c["seconds"] += e.get("seconds") or 0.0
        if e.get("driver"):
            c[f"driver {e['driver']}"] += 1
    return dict(per)


def summary_rows(per: dict[str, Counter]) -> Iterable[dict]:
    for lang, c in sorted(per.items()):
        failed = {k: v for k, v in c.items() if k in records.STATUSES and k != "ok"}
        row = {"language": lang, "files": c["files"], "ok": c["ok"], "failed": failed,
               "events": c["events"], "seconds": round(c["seconds"], 3)}
        if c["driver verified"] or c["driver rejected"]:   # files with no entry point that got a driver
            row["drivers"] = {"verified": c["driver verified"], "rejected": c["driver rejected"]}
        yield row
