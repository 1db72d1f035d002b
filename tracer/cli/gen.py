"""`trace gen STRATEGY INPUT --out ROWS`: one command per registered strategy, built from the registry.

Each strategy's Options dataclass gives its command's own typed options (`trace gen NAME --help`
lists them); the rest is the same for all: the generator and its options, sampling params, the
cache, shards and workers. Built-in and third-party strategies are reached the same way.
"""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import generation, pipeline, plugins
from ..contracts import Strategy, make_options, missing_members, options_of
from .options import ANY_ARGS, console, fail, typed_parameters, unusable, with_signature


class Format(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"


def _common(
    input: Annotated[Path, typer.Argument(help="A dump (from `trace batch` / `trace run --out`) or a corpus.")],
    *,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the rows (.jsonl or .parquet).")],
    fmt: Annotated[Format | None, typer.Option(
        "--format", "-f", help="jsonl or parquet (default: from the --out suffix, else jsonl).")] = None,
    generator: Annotated[str | None, typer.Option(
        "--generator", "-g", help="The generator plugin that answers (see `trace plugins list`).")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-O", help="Generator option key=value (repeatable), e.g. base_url=http://...")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="Sampling parameter key=value (repeatable), e.g. temperature=0.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the model again; store nothing.")] = False,
    cache_dir: Annotated[Path | None, typer.Option(
        help="The response cache (default $CODEALCHEMY_CACHE, else ~/.cache/codealchemy).")] = None,
    shard_size: Annotated[int, typer.Option(help="Inputs per shard (the unit of resumption).", min=1)] =
        generation.DEFAULT_SHARD,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    executor: Annotated[str, typer.Option(help="local (a process pool) or ray.")] = "local",
    work_dir: Annotated[Path | None, typer.Option(
        help="Where run directories go, one per settings digest (default: beside --out).")] = None,
) -> None: ...


COMMON = list(inspect.signature(_common, eval_str=True).parameters.values())
RESERVED = {p.name for p in COMMON}


def build() -> typer.Typer:
    """The `trace gen` group: `list`, and one command per registered strategy."""
    app = typer.Typer(no_args_is_help=True, help="Generate dataset rows from dumps or corpora with a strategy.")
    app.command("list")(list_cmd)
    for name, factory in sorted(plugins.strategies().items()):
        if name == "list":
            continue
        doc = (inspect.getdoc(factory) or f"The {name} strategy.").split("\n\n")[0]
        try:
            params = COMMON + typed_parameters(options_of(factory), RESERVED)
        except TypeError as e:
            app.command(name, help=f"(unusable: {e})", context_settings=ANY_ARGS)(
                unusable(f"strategy {name}'s options", str(e)))
            continue
        app.command(name, help=doc)(with_signature(_command(name, factory), params))
    return app


def list_cmd() -> None:
    """The strategies that plugins register."""
    for name in sorted(plugins.strategies()):
        print(name)


def _command(name: str, factory: Any):
    def command(**values: Any) -> None:
        common = {k: values.pop(k) for k in RESERVED}
        run_gen(name, factory, values, **common)
    return command


def run_gen(name: str, factory: Any, values: dict, *, input: Path, out: Path, fmt: Format | None,
            generator: str | None, option: list[str] | None, param: list[str] | None, no_cache: bool,
            cache_dir: Path | None, shard_size: int, workers: int, executor: str, work_dir: Path | None) -> None:
    from ..generators import GenerationParams, parse_options

    try:
        options = make_options(options_of(factory), values)
        missing = missing_members(factory(**asdict(options)), Strategy)  # refused options fail here, once
        if missing:
            raise fail(f"strategy {name} does not implement the Strategy contract: no {', '.join(missing)} "
                       "(docs/plugins.md)")
        gen_options = parse_options(option or [])
        params = GenerationParams.from_pairs(param or []).to_dict()
    except (ValueError, TypeError) as e:
        raise fail(str(e)) from None
    if getattr(factory, "uses_generator", False):
        if generator is None:
            raise fail(f"strategy {name} calls a model: name one with --generator "
                       f"(known: {', '.join(sorted(plugins.generators())) or 'none'})")
        if generator not in plugins.generators():
            raise fail(f"unknown generator {generator!r} (known: {', '.join(sorted(plugins.generators()))})")
        _check_generator(generator, gen_options)
    elif generator is not None:
        raise fail(f"strategy {name} calls no model: --generator does not apply")
    if executor not in pipeline.EXECUTORS:
        raise fail(f"unknown executor {executor!r} ({' or '.join(pipeline.EXECUTORS)})")
    fmt = fmt or (Format.parquet if out.suffix == ".parquet" else Format.jsonl)
    step = generation.GenStep(strategy=name, options=json.loads(json.dumps(asdict(options), default=str)),
                              generator=generator, generator_options=gen_options, params=params,
                              source=str(input.resolve()), cache=not no_cache,
                              cache_dir=str(cache_dir) if cache_dir else None)
    try:
        shards = generation.plan(input, getattr(factory, "consumes", ("traces",)), shard_size)
    except (generation.GenError, OSError) as e:
        raise fail(str(e)) from None
    run_dir = (work_dir or out.parent / f".{out.name}.runs") / pipeline.digest(step)
    try:
        pipeline.run(step, shards, run_dir, executor=executor, workers=workers,
                     progress=pipeline.progress_for(sys.stderr, f"gen {name}"))
    except pipeline.SettingsMismatch as e:
        raise fail(str(e)) from None
    except (KeyboardInterrupt, pipeline.Stopped) as e:
        raise fail(f"gen {e or 'interrupted'}: unfinished shards are unmarked; the same command resumes", 130) from None
    except Exception as e:
        raise fail(f"gen {name} stopped: {type(e).__name__}: {e} (done shards are kept; the same command "
                   f"resumes)", 1) from None
    summary = generation.gather(run_dir, shards, out, fmt.value)
    _report(summary, out, run_dir)
    if not summary["ok"]:
        kept = " (the earlier rows there are kept)" if out.exists() else ""
        raise fail(f"no rows: no input of {input} gave one{kept}; see {run_dir / 'summary.json'}", 1)


def _check_generator(name: str, options: dict) -> None:
    """Make the generator once here, so bad options fail now, in one line, not in every worker
    (generators start servers or load models at their first call, not when made)."""
    from ..generators import GeneratorError

    try:
        gen = plugins.generators()[name](**options)
    except (GeneratorError, TypeError, ValueError) as e:
        raise fail(f"generator {name}: {e}") from None
    close = getattr(gen, "close", None)
    if close is not None:
        close()


def _report(summary: dict, out: Path, run_dir: Path) -> None:
    """One line for the output, the failures' main reasons, and a table per language (to stderr:
    stdout stays free for what a caller pipes)."""
    from rich.table import Table

    failed = summary["rows"] - summary["ok"]
    print(f"trace: wrote {summary['ok']} rows to {out}"
          + (f"; {failed} failed or left out, in {generation.failures_path(out).name}" if failed and summary["ok"]
             else ""), file=sys.stderr)
    for reason, count in list(summary["failures_by_reason"].items())[:10]:
        print(f"trace:   {count}: {reason}", file=sys.stderr)
    langs = summary["by_language"]
    checked = "verified" in summary
    table = Table("language", "rows", "ok", *(("verified", "failed check", "unchecked") if checked else ()),
                  "not ok", title=f"{', '.join(summary['by_strategy'])}: rows by language")
    for lang, v in [*langs.items(), ("all", None)]:
        if v is None:
            v = {"rows": summary["rows"], "ok": summary["ok"], "by_status": summary["by_status"],
                 "verified": summary.get("verified", {})}
        ver = v.get("verified", {})
        bad = ", ".join(f"{k} {n}" for k, n in v["by_status"].items() if k != "ok") or "-"
        table.add_row(lang, str(v["rows"]), str(v["ok"]),
                      *((str(ver.get("true", 0)), str(ver.get("false", 0)), str(ver.get("none", 0)))
                        if checked else ()), bad)
    console(stderr=True).print(table)
    print(f"trace: summary: {generation.summary_path(out) if summary['ok'] else run_dir / 'summary.json'}",
          file=sys.stderr)
