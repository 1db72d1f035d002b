"""`trace eval traceeval build|predict|score`: the TraceEval benchmark from the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .. import records

app = typer.Typer(no_args_is_help=True, help="Benchmarks: build tasks from dumps, predict, score.")
traceeval = typer.Typer(no_args_is_help=True, help="TraceEval: predict a program's execution trace.")
app.add_typer(traceeval, name="traceeval")

Tasks = Annotated[Path, typer.Argument(help="Tasks, JSON lines (from `trace eval traceeval build`).")]


def fail(message: str, code: int = 2) -> typer.Exit:
    print(f"trace: {message}", file=sys.stderr)
    return typer.Exit(code)


def _benchmark():
    from .. import plugins

    factory = plugins.benchmarks().get("traceeval")
    if factory is None:
        raise fail("no benchmark named traceeval is registered (see `trace plugins list`)")
    return factory()


def _write_jsonl(rows, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


@app.command("list")
def list_cmd() -> None:
    """The benchmarks that plugins register."""
    from .. import plugins

    for name in sorted(plugins.benchmarks()):
        print(name)


@traceeval.command("build")
def build_cmd(
    dump: Annotated[Path, typer.Argument(help="A dump directory (from `trace run --out` or `trace batch`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the tasks (JSON lines).")],
    per_language: Annotated[int, typer.Option("--per-language", help="Tasks per language, at most.")] = 75,
    max_events: Annotated[int, typer.Option("--max-events", help="Leave out traces with more events.")] = 200,
    min_events: Annotated[int, typer.Option("--min-events", help="Leave out traces with fewer events.")] = 3,
    max_source_lines: Annotated[int, typer.Option(help="Leave out longer programs.")] = 120,
    seed: Annotated[int, typer.Option(help="Sampling seed: the same dump and seed give the same split.")] = 0,
    dedup_threshold: Annotated[float, typer.Option(
        help="Programs whose token 5-gram Jaccard similarity reaches this are near-duplicates.")] = 0.7,
    language: Annotated[list[str] | None, typer.Option(
        "--language", "-l", help="Only these languages (repeatable).")] = None,
) -> None:
    """Choose traces from DUMP (ok, within bounds, diverse, deduplicated) and write TraceEval tasks."""
    bench = _benchmark()
    try:
        result = bench.build(dump, per_language=per_language, max_events=max_events, min_events=min_events,
                             max_source_lines=max_source_lines, seed=seed, dedup_threshold=dedup_threshold,
                             languages=tuple(language) if language else None)
    except (records.RecordError, ValueError) as e:
        raise fail(str(e)) from None
    by_lang: dict[str, int] = {}
    for t in result.tasks:
        by_lang[t["language"]] = by_lang.get(t["language"], 0) + 1
    summary = ", ".join(f"{lang} {n}/{result.available[lang]}" for lang, n in sorted(by_lang.items()))
    for reason, count in result.skipped.most_common():
        print(f"trace:   left out {count}: {reason}", file=sys.stderr)
    if not result.tasks:
        raise fail(f"no task: no trace in {dump} qualified (see the reasons above)", 1)
    _write_jsonl(result.tasks, out)
    print(f"trace: wrote {len(result.tasks)} tasks to {out} ({summary}; taken/eligible)", file=sys.stderr)


@traceeval.command("predict")
def predict_cmd(
    tasks: Tasks,
    generator: Annotated[str, typer.Option("--generator", "-g", help="A generator plugin, e.g. file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the predictions (JSON lines).")],
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-O", help="Generator option key=value (repeatable), e.g. path=completions.jsonl.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="Sampling parameter key=value (repeatable), e.g. temperature=0.")] = None,
    batch_size: Annotated[int, typer.Option(help="Prompts per generate() call.")] = 64,
) -> None:
    """Ask a generator for each task's prediction; writes {"id", "prediction"} lines."""
    from .. import plugins
    from ..generators import GenerationParams, GeneratorError, Request, parse_options
    from ..generators import Generator as GeneratorProtocol

    factories = plugins.generators()
    if generator not in factories:
        raise fail(f"unknown generator {generator!r} (known: {', '.join(sorted(factories)) or 'none'})")
    from ...evals.traceeval import TraceEvalError, read_jsonl

    try:
        rows = read_jsonl(tasks, "tasks")
        params = GenerationParams.from_pairs(param or [])
        gen = factories[generator](**parse_options(option or []))
    except (TraceEvalError, GeneratorError, ValueError, TypeError) as e:
        raise fail(str(e)) from None
    if not isinstance(gen, GeneratorProtocol):
        raise fail(f"generator {generator!r} has no generate(requests, params)")
    bench = _benchmark()
    predictions = []
    failed = 0
    for i in range(0, len(rows), max(batch_size, 1)):
        chunk = rows[i:i + max(batch_size, 1)]
        requests = [Request.user(str(t["id"]), p) for t, p in zip(chunk, bench.prompts(chunk), strict=True)]
        try:
            completions = gen.generate(requests, params)
        except GeneratorError as e:
            raise fail(str(e)) from None
        if len(completions) != len(chunk):
            raise fail(f"generator {generator!r} gave {len(completions)} completions for {len(chunk)} prompts")
        for t, c in zip(chunk, completions, strict=True):
            row = {"id": t["id"], "prediction": c.text, "generator": generator, "model": gen.model}
            if c.error is not None:
                failed += 1
                row["error"] = c.error
            predictions.append(row)
    _write_jsonl(predictions, out)
    note = f" ({failed} failed: their rows have an error and an empty prediction)" if failed else ""
    print(f"trace: wrote {len(predictions)} predictions to {out}{note}", file=sys.stderr)


@traceeval.command("score")
def score_cmd(
    tasks: Tasks,
    predictions: Annotated[Path, typer.Argument(help='Predictions, JSON lines {"id", "prediction"}.')],
    json_out: Annotated[bool, typer.Option("--json", help="Print the scores as one JSON object.")] = False,
    per_task: Annotated[Path | None, typer.Option(help="Also write each task's scores here (JSON lines).")] = None,
) -> None:
    """Exact match, ROUGE-2 F1 and per-step accuracy, overall and by language (fractions in [0, 1])."""
    from ...evals.traceeval import TraceEvalError, read_jsonl

    bench = _benchmark()
    rows: list | None = [] if per_task is not None else None
    try:
        result = bench.score(read_jsonl(tasks, "tasks"), read_jsonl(predictions, "predictions"), per_task=rows)
    except TraceEvalError as e:
        raise fail(str(e)) from None
    if per_task is not None:
        _write_jsonl(rows, per_task)
    if json_out:
        print(json.dumps(result))
        return
    table = Table("language", "n", "exact match", "ROUGE-2", "step accuracy")
    for lang, s in [*result["by_language"].items(), ("all", result)]:
        table.add_row(lang, str(s["n"]), f"{100 * s['exact_match']:.2f}", f"{100 * s['rouge2']:.2f}",
                      f"{100 * s['step_accuracy']:.2f}")
    Console().print(table)
