"""The contract of strategy and benchmark plugins: what they implement and what the core gives them.

A plugin registers a *factory* with `register(name, factory)` (hooks `register_strategies`,
`register_benchmarks`). The factory carries an `Options` attribute, a dataclass whose fields are
its options; declare each with `option(default, "help")`. The CLI turns every field into a
typed `--field-name` option of `trace gen NAME` / `trace eval NAME ...` (its type, default and
help from the field), checks the values, and calls `factory(**options)`. So a third-party
strategy is reached exactly as a built-in one: no per-plugin command, no import by path.

Strategy (`trace gen NAME INPUT --generator G --out ROWS`):
- `consumes`: what it reads, `"traces"` (dumps), `"sources"` (corpora) or both; `trace gen`
  reads INPUT into `Input`s, trace by trace or file by file, and hands them over in batches.
- `uses_generator`: whether it calls a model (then `--generator` is required).
- `load(generator, params)` before the first batch (generator None when not used; params the
  sampling parameters to pass to its generate() calls), `unload()` after.
- `process(batch) -> rows`: dataset rows for a batch of inputs, made with `rows.row()` /
  `rows.failure()`. Batches let a strategy send one generate() call for a whole batch (each
  turn of a dialogue, say). A failed parse, a failed model call, an input it cannot use: each
  is a row too, with its status, reason and the raw model output, never a silent drop. A
  strategy that raises makes every input of its batch a `strategy_error` row.
- `prompt_version`: the hash of its prompt files (`prompt_version(folder)`), a row column.

Benchmark (`trace eval NAME build|predict|score`, and `judge` for a benchmark that has one):
- `build(source) -> BuildResult`: tasks (dicts with an `id` and a `prompt`) from a dump or corpus,
  with the reasons inputs were left out;
- `predict(tasks, generator, params) -> predictions` (`{"id", "prediction", ...}`, a failed call
  a prediction with `error`); `predict_with()` is the usual implementation;
- optional `judge(tasks, predictions, generator, params) -> verdicts` (one dict with an `id` per
  task): a model judges the predictions (`trace eval NAME judge TASKS PREDICTIONS --generator J
  --out VERDICTS`); such a benchmark's score then takes them: `score(tasks, predictions,
  verdicts=...)` (`trace eval NAME score TASKS PREDICTIONS --verdicts VERDICTS`), so scoring asks
  no model and every candidate's verdicts name their judge;
- `score(tasks, predictions) -> scores` (a JSON-able dict: overall metrics and `by_language`; a
  metric that cannot be had here is None, with the reason under `unavailable`).
A prediction's `prediction` is the answer without the model's reasoning; `answer_text()` strips
reasoning still inline (`<think>…</think>`, harmony channels) from predictions made elsewhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

if typing.TYPE_CHECKING:
    from .generators import GenerationParams, Generator


def option(default: Any, help: str) -> Any:
    """A typed option: a dataclass field with its default and the help line the CLI shows."""
    if isinstance(default, list | dict | set):
        raise TypeError("an option's default must be immutable (use a tuple)")
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class OptionSpec:
    """One field of an Options dataclass, as the CLI sees it."""

    name: str
    type: Any            # int, float, str, bool, Path, or tuple (a list of str)
    default: Any
    help: str
    optional: bool       # None is allowed


SCALARS = (bool, int, float, str, Path)


def option_specs(options_cls: type) -> list[OptionSpec]:
    """The fields of an Options dataclass; a type outside SCALARS, tuples of them and Optional is an error."""
    if not dataclasses.is_dataclass(options_cls):
        raise TypeError(f"{options_cls!r}: Options must be a dataclass")
    hints = typing.get_type_hints(options_cls)
    specs = []
    for f in dataclasses.fields(options_cls):
        kind, optional = _unwrap(hints[f.name], f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        specs.append(OptionSpec(f.name, kind, default, f.metadata.get("help", ""), optional))
    return specs


def _unwrap(hint: Any, name: str) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        optional = len(rest) < len(args)
        if len(rest) != 1:
            raise TypeError(f"option {name}: one type (or it | None), not {hint!r}")
        hint, args = rest[0], typing.get_args(rest[0])
    if typing.get_origin(hint) is tuple and args and args[-1] is Ellipsis and args[0] in SCALARS:
        return (tuple, args[0]), optional
    if hint in SCALARS:
        return hint, optional
    raise TypeError(f"option {name}: type {hint!r} is not one of bool, int, float, str, Path or a tuple of them")


def make_options(options_cls: type, values: dict[str, Any]) -> Any:
    """An Options instance from CLI values, each checked against its field's type."""
    known = {s.name: s for s in option_specs(options_cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} (known: {', '.join(known) or 'none'})")
    checked = {}
    for key, value in values.items():
        spec = known[key]
        if value is None:
            if not spec.optional and spec.default is not None:
                raise ValueError(f"option {key} needs a value")
            checked[key] = None
        elif isinstance(spec.type, tuple):
            items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
            checked[key] = tuple(_coerce(spec.type[1], v, key) for v in items)
        else:
            checked[key] = _coerce(spec.type, value, key)
    return options_cls(**checked)


def _coerce(kind: type, value: Any, key: str) -> Any:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    text = str(value).strip()
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        return kind(text)
    except ValueError:
        raise ValueError(f"option {key}: {value!r} is not a {kind.__name__}") from None


def options_of(factory: Any) -> type:
    """A registered factory's Options dataclass (an empty one when it declares none)."""
    return getattr(factory, "Options", None) or _NoOptions


@dataclass(frozen=True)
class _NoOptions:
    pass


def prompt_version(folder: str | Path, name: str) -> str:
    """`name@` + 12 hex of the sha256 over a prompt folder's files (names and contents, in name
    order): any edit to a prompt changes the version that rows record."""
    h = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{name}@{h.hexdigest()[:12]}"


@dataclass
class Input:
    """One thing a strategy makes rows from: a trace of a dump (`kind` "trace", with `records`)
    or a source file of a corpus (`kind` "source"). `id` is unique in the run (the trace id
    `shard:offset`, or the corpus source id); `provenance` holds the corpus columns that travel
    into every row (blob_id, repo, path, license, corpus). `code` is the program text, None
    when a trace's program cannot be had (`code_error` says why). `error`: why the input could not
    be read at all; the core makes its failure row without calling the strategy."""

    id: str
    kind: str
    language: str | None
    code: str | None
    sha256: str | None
    provenance: dict = field(default_factory=dict)
    records: list[dict] | None = None
    path: str | None = None
    code_error: str | None = None
    error: str | None = None
    #: where it came from: the dump or corpus path given to `trace gen`
    origin: str | None = None

    @classmethod
    def from_trace(cls, trace: list[dict], trace_id: str, base: str | Path | None = None,
                   origin: str | None = None) -> Input:
        """A trace as an Input: its program text from the dump's own copy, else read beside `base`."""
        from .render_text import SourceUnavailable, program_text

        head = trace[0]
        try:
            code, error = program_text(head, base=base), None
        except SourceUnavailable as e:
            code, error = None, str(e)
        return cls(id=trace_id, kind="trace", language=head.get("language") or "?", code=code,
                   sha256=head.get("sha256"), provenance=dict(head.get("input") or {}), records=trace,
                   path=head.get("source"), code_error=error, origin=origin)


@runtime_checkable
class Strategy(Protocol):
    name: ClassVar[str]
    consumes: ClassVar[tuple[str, ...]]
    uses_generator: ClassVar[bool]

    @property
    def prompt_version(self) -> str: ...

    def load(self, generator: Generator | None, params: GenerationParams | None) -> None: ...

    def unload(self) -> None: ...

    def process(self, batch: Sequence[Input]) -> Iterable[dict]: ...


def missing_members(obj: Any, protocol: type) -> list[str]:
    """What `obj` lacks of a contract Protocol (Strategy, Benchmark): empty when it implements it."""
    names = set(protocol.__annotations__) | {k for k, v in vars(protocol).items()
                                             if callable(v) or isinstance(v, property)}
    return sorted(n for n in names if not n.startswith("_") and not hasattr(obj, n))


@dataclass
class BuildResult:
    tasks: list[dict]
    #: why inputs were left out: reason -> count
    skipped: Counter = field(default_factory=Counter)
    #: language -> inputs that were eligible
    available: Counter = field(default_factory=Counter)


@runtime_checkable
class Benchmark(Protocol):
    name: ClassVar[str]

    def build(self, source: str | Path) -> BuildResult: ...

    def predict(self, tasks: Sequence[dict], generator: Generator, params: GenerationParams) -> list[dict]: ...

    def score(self, tasks: Iterable[dict], predictions: Iterable[dict]) -> dict: ...


def has_judge(benchmark: Any) -> bool:
    """Whether a benchmark (or its factory) defines the optional judge phase."""
    return callable(getattr(benchmark, "judge", None))


def answer_text(prediction: dict) -> str:
    """A prediction's answer: its `prediction` ("" when null) without reasoning left inline."""
    from .generators.reasoning import split_reasoning

    text = prediction.get("prediction")
    if text is None:
        return ""
    if not isinstance(text, str):
        raise ValueError(f"prediction for task id {prediction.get('id')!r} is not a string")
    return split_reasoning(text)[1]


def predict_with(tasks: Sequence[dict], generator: Generator, params: GenerationParams,
                 batch_size: int = 64) -> list[dict]:
    """Each task's `prompt` as a one-turn chat, answered by `generator`: {"id", "prediction",
    "raw_output", "has_reasoning", "generator", "model"} per task, in order: `prediction` the
    answer, `raw_output` all the model wrote (`<think>reasoning</think>` first when it reasoned);
    a failed call has `error` and an empty prediction."""
    from .generators import GeneratorError, Request

    out = []
    step = max(batch_size, 1)
    for i in range(0, len(tasks), step):
        chunk = tasks[i:i + step]
        completions = generator.generate([Request.user(str(t["id"]), t["prompt"]) for t in chunk], params)
        if len(completions) != len(chunk):
            raise GeneratorError(f"generator {generator.name!r} gave {len(completions)} completions "
                                 f"for {len(chunk)} prompts")
        for t, c in zip(chunk, completions, strict=True):
            row = {"id": t["id"], "prediction": c.text, "raw_output": c.rendered(), "has_reasoning": c.has_reasoning,
                   "generator": generator.name, "model": generator.model}
            if c.error is not None:
                row["error"] = c.error
            out.append(row)
    return out


def pair_by_id(tasks: Iterable[dict], predictions: Iterable[dict],
               error: type[Exception] = ValueError) -> tuple[dict[str, dict], dict[str, dict]]:
    """Tasks and predictions by their string `id`, every task with exactly one prediction and
    every prediction with a task; anything else raises `error`, naming the culprit."""
    tasks_by_id, preds_by_id = _by_id(tasks, "task", error), _by_id(predictions, "prediction", error)
    missing = [k for k in tasks_by_id if k not in preds_by_id]
    if missing:
        raise error(f"no prediction for task id {_names(missing)}")
    extra = [k for k in preds_by_id if k not in tasks_by_id]
    if extra:
        raise error(f"prediction for unknown task id {_names(extra)}")
    return tasks_by_id, preds_by_id


def _by_id(rows: Iterable[dict], what: str, error: type[Exception]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for n, row in enumerate(rows, 1):
        key = row.get("id")
        if not isinstance(key, str):
            raise error(f"{what} row {n} has no string id")
        if key in out:
            raise error(f"{what} id {key!r} appears twice")
        out[key] = row
    return out


def _names(ids: list[str]) -> str:
    more = f" (and {len(ids) - 1} more)" if len(ids) > 1 else ""
    return f"{ids[0]!r}{more}"
