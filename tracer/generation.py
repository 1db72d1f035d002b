"""`trace gen`'s run: a strategy over a dump or a corpus, as a pipeline step, into rows.

The input is cut into shards (a dump by its index entries, a corpus as `trace batch` cuts it);
each shard's rows go to `<run_dir>/<shard>.jsonl` and its completion marker follows, so a
killed run resumes where it stopped and gives every row once. The run directory is named by
the step's settings digest (strategy, options, generator and its options, sampling params,
input, prompt version): the same command resumes, another starts afresh. Model answers go
through the response cache, so a resumed shard asks the model nothing it had answered.

When every shard is done, the rows are gathered in plan order: good rows (`status` ok) to
`--out`, the others (failures and inputs a strategy left out, each with its reason) to
`<out>.failures.jsonl`, and a summary by strategy, language and status beside them. A run with
no good row leaves an earlier `--out` as it was.
"""

from __future__ import annotations

import json
import multiprocessing.util
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, corpus, plugins, records, rows
from .contracts import Input, make_options, options_of
from .generators import GenerationParams, GeneratorError
from .generators.cache import with_cache

DEFAULT_SHARD = 16


class GenError(RuntimeError):
    """A run that cannot start or finish (the message says why, in one line)."""


# --- inputs ------------------------------------------------------------------------------------


def is_dump(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.index.jsonl"))


@dataclass(frozen=True)
class TraceShard:
    """Traces of a dump: `entries` are index entries, in index order."""

    name: str
    dump: str
    entries: tuple[dict, ...]
    count: int

    def items(self) -> Iterator[Input]:
        for entry in self.entries:
            tid = f"{entry['shard']}:{entry['offset']}"
            try:
                trace = records.dump_trace(self.dump, entry)
            except records.RecordError as e:
                yield Input(id=tid, kind="trace", language=entry.get("language"), code=None,
                            sha256=entry.get("sha256"), error=str(e), origin=self.dump)
                continue
            yield Input.from_trace(trace, tid, Path(self.dump).parent, origin=self.dump)


@dataclass(frozen=True)
class SourceShard:
    """Source files of a corpus: one `corpus.Shard`."""

    name: str
    inner: corpus.Shard
    origin: str
    count: int

    def items(self) -> Iterator[Input]:
        import hashlib

        registry = plugins.languages()
        for item in self.inner.items():
            sid = item.input.get("source_id") or item.source
            language = item.language
            if language is None and item.path:
                try:
                    language = registry.for_path(item.path, (item.content or b"")[:256]).id
                except Exception:
                    language = None
            code, error = None, item.error
            if item.content is not None:
                try:
                    code = item.content.decode("utf-8")
                except UnicodeDecodeError as e:
                    error = f"not UTF-8 text: {e}"
            yield Input(id=sid, kind="source", language=language, code=code,
                        sha256=hashlib.sha256(item.content).hexdigest() if item.content is not None else None,
                        provenance=dict(item.input), path=item.path or item.source, error=error, origin=self.origin)


def plan(source: Path, consumes: Sequence[str], shard_size: int) -> list:
    """The shards of a dump (for strategies that read traces) or a corpus (for sources)."""
    if is_dump(source):
        if "traces" not in consumes:
            raise GenError(f"{source} is a dump, and this strategy reads {', '.join(consumes)}")
        problems: list[str] = []
        index = records.dump_index(source, problems)
        out = []
        for i in range(0, len(index), shard_size):
            chunk = tuple(index[i:i + shard_size])
            out.append(TraceShard(f"shard-{i // shard_size:06d}", str(source), chunk, len(chunk)))
        return out
    if "sources" not in consumes:
        raise GenError(f"{source} is not a dump (no *.index.jsonl), and this strategy reads traces")
    if not source.exists():
        raise GenError(f"{source} does not exist")
    return [SourceShard(s.name, s, str(source), s.count) for s in corpus.shards([source], shard_size)]


def inputs(source: str | Path, consumes: Sequence[str] = ("traces", "sources")) -> Iterator[Input]:
    """The `Input`s of a dump or a corpus, as `trace gen` hands them to a strategy (and as a
    benchmark's build() may read them)."""
    for shard in plan(Path(source), tuple(consumes), DEFAULT_SHARD):
        yield from shard.items()


# --- the step ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenStep:
    """One strategy with its options and generator; pickled to every worker."""

    strategy: str
    options: dict
    generator: str | None = None
    generator_options: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    source: str = ""
    cache: bool = True
    cache_dir: str | None = None
    name = "gen"

    def settings(self) -> dict:
        factory = plugins.strategies()[self.strategy]
        return {"strategy": self.strategy, "options": self.options, "generator": self.generator,
                "generator_options": self.generator_options, "params": self.params, "source": self.source,
                "prompt_version": getattr(factory, "prompt_version", None), "tool": __version__}

    def run(self, shard: Any, out: Any) -> None:
        strategy, generator = _loaded(self)
        batch = list(shard.items())
        made: list[dict] = []
        for inp in batch:
            if inp.error is not None:
                made.append(rows.failure(inp, strategy, generator, "input_error", inp.error))
        good = [inp for inp in batch if inp.error is None]
        if good:
            try:
                made.extend(strategy.process(good))
            except GeneratorError:
                raise   # a generator that cannot work: stop, leave the shard to redo
            except Exception as e:
                reason = f"strategy {self.strategy} raised {type(e).__name__}: {e}"
                made.extend(rows.failure(inp, strategy, generator, "strategy_error", reason) for inp in good)
        by_input = _assign(batch, made, strategy, generator)
        with out.open(".jsonl", encoding="utf-8") as fh:
            for inp in batch:
                for r in by_input[inp.id]:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        for inp in batch:
            statuses = [r["status"] for r in by_input[inp.id]]
            out.done(rows.OK if rows.OK in statuses else statuses[0], rows=len(statuses))


def _assign(batch: list[Input], made: list[dict], strategy: Any, generator: Any) -> dict[str, list[dict]]:
    """Rows by the input they came from; a bad row, or an input with none, becomes a failure row."""
    by_input: dict[str, list[dict]] = {inp.id: [] for inp in batch}
    kinds = {inp.id: inp for inp in batch}
    for r in made:
        key = r.get("trace_id") if isinstance(r, dict) and r.get("trace_id") in kinds else (
            r.get("source_id") if isinstance(r, dict) else None)
        bad = rows.problems(r)
        if key not in kinds:
            bad = [*bad, "it names no input of its batch (trace_id / source_id)"]
        if bad:
            # not attributable or malformed: keep what it said on the first input it could be
            inp = kinds.get(key) or batch[0]
            by_input[inp.id].append(rows.failure(inp, strategy, generator, "bad_row",
                                                 f"the strategy gave a bad row: {'; '.join(bad)}",
                                                 raw_output=json.dumps(r, ensure_ascii=False, default=str)))
        else:
            by_input[key].append(r)
    for inp in batch:
        if not by_input[inp.id]:
            by_input[inp.id].append(rows.failure(inp, strategy, generator, "no_row",
                                                 f"strategy {getattr(strategy, 'name', '?')} gave no row for it"))
    return by_input


_LOADED: dict[int, tuple[GenStep, Any, Any]] = {}


def _loaded(step: GenStep) -> tuple[Any, Any]:
    """This process's strategy and generator for `step`, made and loaded once."""
    key = hash(json.dumps(asdict(step), sort_keys=True, default=str))
    if key not in _LOADED:
        factory = plugins.strategies()[step.strategy]
        strategy = factory(**asdict(make_options(options_of(factory), step.options)))
        generator = None
        if step.generator is not None:
            generator = with_cache(plugins.generators()[step.generator](**step.generator_options),
                                   step.cache_dir, enabled=step.cache)
        strategy.load(generator, params_of(step))
        _LOADED[key] = (step, strategy, generator)
    return _LOADED[key][1], _LOADED[key][2]


def _unload_all() -> None:
    for _, strategy, generator in _LOADED.values():
        strategy.unload()
        close = getattr(generator, "close", None)
        if close is not None:
            close()
    _LOADED.clear()


# at the exit of this process and of every forked pool worker (which skip atexit handlers)
multiprocessing.util.Finalize(None, _unload_all, exitpriority=0)


def params_of(step: GenStep) -> GenerationParams:
    return GenerationParams(**{k: tuple(v) if k == "stop" else v for k, v in step.params.items()})


# --- gathering ---------------------------------------------------------------------------------


def failures_path(out: Path) -> Path:
    return out.with_name(f"{out.name}.failures.jsonl")


def summary_path(out: Path) -> Path:
    return out.with_name(f"{out.name}.summary.json")


def gather(run_dir: Path, shards: list, out: Path, fmt: str) -> dict:
    """Every done shard's rows, in plan order: good ones to `out`, the rest to the failures file,
    and the summary. `out` is left alone when there is no good row."""
    files = [run_dir / f"{s.name}.jsonl" for s in shards]

    def good_chunks() -> Iterator[list[dict]]:
        for f in files:
            yield [r for r in rows.read_jsonl(f) if r.get("status") == rows.OK]

    every = (r for f in files for r in rows.read_jsonl(f))
    summary = rows.summary(every)
    summary["ok"] = summary["by_status"].get(rows.OK, 0)
    if summary["ok"]:
        if fmt == "parquet":
            rows.write_parquet(None, out, reread=good_chunks)
        else:
            rows.write_jsonl((r for chunk in good_chunks() for r in chunk), out)
        failed = (r for f in files for r in rows.read_jsonl(f) if r.get("status") != rows.OK)
        if rows.write_jsonl(failed, failures_path(out)) == 0:
            failures_path(out).unlink(missing_ok=True)
        summary_path(out).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary
