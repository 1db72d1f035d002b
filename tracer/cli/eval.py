"""`trace eval BENCH build|predict|judge|score`: every registered benchmark, built from the registry.

A benchmark's Options dataclass gives `build`'s typed options (`trace eval NAME build --help`);
`predict` asks any generator plugin; `judge` (for a benchmark that defines one) has a generator
judge the predictions, and `score` then reads those verdicts (`--verdicts`); `score` prints a
table or JSON. Built-in and third-party benchmarks are reached the same way.
"""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import plugins, records, rows
from ..contracts import Benchmark, has_judge, make_options, missing_members, options_of
from .options import ANY_ARGS, console, fail, typed_parameters, unusable, with_signature

Tasks = Annotated[Path, typer.Argument(help="Tasks, JSON lines (from `trace eval NAME build`).")]


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Benchmarks: build tasks from dumps, predict, score.")
    app.command("list")(list_cmd)
    for name, factory in sorted(plugins.benchmarks().items()):
        if name == "list":
            continue
        doc = (inspect.getdoc(factory) or f"The {name} benchmark.").split("\n\n")[0]
        group = typer.Typer(no_args_is_help=True, help=doc)
        app.add_typer(group, name=name)
        try:
            params = typed_parameters(options_of(factory), _BUILD_RESERVED)
        except TypeError as e:
            group.command("build", help=f"(unusable: {e})", context_settings=ANY_ARGS)(
                unusable(f"benchmark {name}'s options", str(e)))
        else:
            group.command("build", help="Choose inputs of SOURCE and write the benchmark's tasks.")(
                with_signature(_build_command(name, factory), _BUILD + params))
        group.command("predict")(_predict_command(name, factory))
        if has_judge(factory):
            group.command("judge")(_judge_command(name, factory))
            group.command("score")(_judged_score_command(name, factory))
        else:
            group.command("score")(_score_command(name, factory))
    return app


def list_cmd() -> None:
    """The benchmarks that plugins register."""
    for name in sorted(plugins.benchmarks()):
        print(name)


def _build_signature(
    source: Annotated[Path, typer.Argument(help="A dump directory (from `trace run --out` or `trace batch`).")],
    *,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the tasks (JSON lines).")],
) -> None: ...


_BUILD = list(inspect.signature(_build_signature, eval_str=True).parameters.values())
_BUILD_RESERVED = {p.name for p in _BUILD}


def _bench(name: str, factory: Any, values: dict):
    try:
        bench = factory(**asdict(make_options(options_of(factory), values)))
    except (ValueError, TypeError) as e:
        raise fail(str(e)) from None
    missing = missing_members(bench, Benchmark)
    if missing:
        raise fail(f"benchmark {name} does not implement the Benchmark contract: no {', '.join(missing)} "
                   "(docs/plugins.md)")
    return bench


def _build_command(name: str, factory: Any):
    def command(**values: Any) -> None:
        source, out = values.pop("source"), values.pop("out")
        bench = _bench(name, factory, values)
        try:
            result = bench.build(source)
        except (records.RecordError, ValueError, OSError) as e:
            raise fail(str(e)) from None
        by_lang: dict[str, int] = {}
        for t in result.tasks:
            by_lang[t.get("language") or "?"] = by_lang.get(t.get("language") or "?", 0) + 1
        for reason, count in result.skipped.most_common():
            print(f"trace:   left out {count}: {reason}", file=sys.stderr)
        if not result.tasks:
            raise fail(f"no task: no input of {source} qualified (see the reasons above)", 1)
        rows.write_jsonl(result.tasks, out)
        summary = ", ".join(f"{lang} {n}/{result.available.get(lang, n)}" for lang, n in sorted(by_lang.items()))
        print(f"trace: wrote {len(result.tasks)} tasks to {out} ({summary}; taken/eligible)", file=sys.stderr)
    return command


Generator = Annotated[str, typer.Option("--generator", "-g", help="A generator plugin, e.g. file.")]
GeneratorOptions = Annotated[list[str] | None, typer.Option(
    "--option", "-O", help="Generator option key=value (repeatable), e.g. path=completions.jsonl.")]
Params = Annotated[list[str] | None, typer.Option(
    "--param", "-p", help="Sampling parameter key=value (repeatable), e.g. temperature=0.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Ask the model again; store nothing.")]
CacheDir = Annotated[Path | None, typer.Option(
    help="The response cache (default $CODEALCHEMY_CACHE, else ~/.cache/codealchemy).")]
Predictions = Annotated[Path, typer.Argument(help='Predictions, JSON lines {"id", "prediction"}.')]


def _generator(generator: str, option: list[str] | None, param: list[str] | None, no_cache: bool,
               cache_dir: Path | None):
    """The named generator plugin behind the response cache, and the sampling parameters."""
    from ..generators import GenerationParams, GeneratorError, parse_options
    from ..generators import Generator as GeneratorProtocol
    from ..generators.cache import with_cache

    factories = plugins.generators()
    if generator not in factories:
        raise fail(f"unknown generator {generator!r} (known: {', '.join(sorted(factories)) or 'none'})")
    try:
        params = GenerationParams.from_pairs(param or [])
        gen = factories[generator](**parse_options(option or []))
    except (GeneratorError, ValueError, TypeError) as e:
        raise fail(str(e)) from None
    if not isinstance(gen, GeneratorProtocol):
        raise fail(f"generator {generator!r} has no generate(requests, params)")
    return with_cache(gen, cache_dir, enabled=not no_cache), params


def _load(path: Path, what: str) -> list[dict]:
    try:
        return rows.load_jsonl(path, what)
    except ValueError as e:
        raise fail(str(e)) from None


def _predict_command(name: str, factory: Any):
    def predict(tasks: Tasks, generator: Generator,
                out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the predictions (JSON lines).")],
                option: GeneratorOptions = None, param: Params = None, no_cache: NoCache = False,
                cache_dir: CacheDir = None) -> None:
        """Ask a generator for each task's prediction; writes {"id", "prediction", "raw_output", ...} lines."""
        task_rows = _load(tasks, "tasks")
        bench = _bench(name, factory, {})
        predictions = _ask(generator, option, param, no_cache, cache_dir,
                           lambda gen, params: bench.predict(task_rows, gen, params))
        _write(predictions, out, "predictions", "error", "their rows have an error and an empty prediction")
    return predict


def _judge_command(name: str, factory: Any):
    def judge(tasks: Tasks, predictions: Predictions, generator: Generator,
              out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the verdicts (JSON lines).")],
              option: GeneratorOptions = None, param: Params = None, no_cache: NoCache = False,
              cache_dir: CacheDir = None) -> None:
        """Have a generator judge each task's prediction; writes one verdict line per task for `score --verdicts`."""
        task_rows, prediction_rows = _load(tasks, "tasks"), _load(predictions, "predictions")
        bench = _bench(name, factory, {})
        verdicts = _ask(generator, option, param, no_cache, cache_dir,
                        lambda gen, params: bench.judge(task_rows, prediction_rows, gen, params))
        _write(verdicts, out, "verdicts", "failure", "could not be judged: see their failure and raw outputs")
    return judge


def _ask(generator: str, option: list[str] | None, param: list[str] | None, no_cache: bool,
         cache_dir: Path | None, call: Any) -> list[dict]:
    """`call(generator, params)` with the named generator, closed after; its errors in one line."""
    from ..generators import GeneratorError

    gen, params = _generator(generator, option, param, no_cache, cache_dir)
    try:
        return call(gen, params)
    except (GeneratorError, ValueError) as e:
        raise fail(str(e)) from None
    finally:
        _close(gen)


def _write(lines: list[dict], out: Path, noun: str, failed_key: str, failed_note: str) -> None:
    rows.write_jsonl(lines, out)
    failed = sum(1 for x in lines if x.get(failed_key))
    note = f" ({failed} {failed_note})" if failed else ""
    print(f"trace: wrote {len(lines)} {noun} to {out}{note}", file=sys.stderr)


def _close(generator: Any) -> None:
    close = getattr(generator, "close", None)
    if close is not None:
        close()


JsonOut = Annotated[bool, typer.Option("--json", help="Print the scores as one JSON object.")]
PerTask = Annotated[Path | None, typer.Option(help="Also write each task's scores here (JSON lines).")]


def _score_command(name: str, factory: Any):
    def score(tasks: Tasks, predictions: Predictions, json_out: JsonOut = False, per_task: PerTask = None) -> None:
        """Score predictions against the tasks, overall and by language (fractions in [0, 1])."""
        _score(name, factory, tasks, predictions, json_out, per_task, {})
    return score


def _judged_score_command(name: str, factory: Any):
    def score(tasks: Tasks, predictions: Predictions,
              verdicts: Annotated[Path, typer.Option(help="The verdicts of `trace eval NAME judge` (JSON lines).")],
              json_out: JsonOut = False, per_task: PerTask = None) -> None:
        """Score predictions by their verdicts, overall and by language (fractions in [0, 1])."""
        _score(name, factory, tasks, predictions, json_out, per_task, {"verdicts": _load(verdicts, "verdicts")})
    return score


def _score(name: str, factory: Any, tasks: Path, predictions: Path, json_out: bool, per_task: Path | None,
           extra: dict) -> None:
    bench = _bench(name, factory, {})
    each: list | None = [] if per_task is not None else None
    try:
        result = bench.score(_load(tasks, "tasks"), _load(predictions, "predictions"), per_task=each, **extra)
    except ValueError as e:
        raise fail(str(e)) from None
    if per_task is not None:
        rows.write_jsonl(each, per_task)
    if json_out:
        print(json.dumps(result))
        return
    unavailable = result.get("unavailable", {})
    metrics = [k for k, v in result.items() if isinstance(v, float) or (v is None and k in unavailable)]
    table = Table("language", "n", *(m.replace("_", " ") for m in metrics))
    for lang, s in [*result.get("by_language", {}).items(), ("all", result)]:
        table.add_row(lang, str(s.get("n", "")), *(_cell(s, m) for m in metrics))
    console().print(table)
    for metric, why in unavailable.items():
        print(f"trace: {metric} unavailable: {why}", file=sys.stderr)


def _cell(scores: dict, metric: str) -> str:
    """A metric in percent, with its 95% interval where the scores give one (`intervals`)."""
    value = scores.get(metric)
    if value is None:
        return "n/a"
    bounds = scores.get("intervals", {}).get(metric)
    return f"{100 * value:.2f}" + (f" [{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]" if bounds else "")
