"""DevEval build: developer tasks from seed files, each with a reference answer.

Seeds come from a corpus or a dump (their program text). Per language, in an order fixed by
the seed option: a file is taken unless it has no text, is shorter than min_source_lines or
longer than max_source_lines, repeats an earlier file's sha256, or is a near-duplicate (token
5-gram Jaccard, as TraceEval) of one taken; until per_language. Each seed gets one task kind,
in turn (kinds spread evenly). The reference generator answers every task; a task whose
reference failed is left out with the reason.

Every seed (sha256 and text) is written to the held-out manifest (write_held_out), which
`tracer.dedup --decontaminate` reads, so training rows are kept apart from the benchmark.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ...tracer import rows as rows_mod
from ...tracer.contracts import BuildResult, Input, option
from ...tracer.generation import inputs
from ...tracer.render_text import language_name
from ..traceeval.build import jaccard, shingles
from . import models

PROMPTS = Path(__file__).with_name("prompts")
KINDS = tuple(sorted(p.stem for p in (PROMPTS / "tasks").glob("*.txt")))
HELD_OUT_FORMAT = "codealchemy-heldout/1"


@dataclass(frozen=True)
class DevEvalOptions:
    per_language: int = option(50, "Seed files per language, at most (one task each).")
    kinds: tuple[str, ...] = option(KINDS, "Task kinds, in turn (prompts/tasks/KIND.txt).")
    languages: tuple[str, ...] | None = option(None, "Only these languages (comma-separated).")
    min_source_lines: int = option(3, "Leave out shorter files.")
    max_source_lines: int = option(150, "Leave out longer files.")
    seed: int = option(0, "Sampling seed: the same source and seed give the same tasks.")
    dedup_threshold: float = option(0.7, "Token 5-gram Jaccard similarity at which files are near-duplicates.")
    held_out: Path | None = option(None, "Write the seeds here, JSON lines (required): the held-out manifest.")
    reference_generator: str | None = option(None, "The generator plugin that writes reference answers (required).")
    reference_options: tuple[str, ...] | None = option(None, "Its options, key=value (comma-separated).")
    reference_params: tuple[str, ...] | None = option(None, "Its sampling parameters, key=value (comma-separated).")


def load_prompt(relative: str) -> tuple[Template, str]:
    """A prompt file and its version (`deveval/NAME@` + 8 hex of its sha256)."""
    path = PROMPTS / relative
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ValueError(f"no DevEval prompt {relative!r}") from None
    return Template(text), f"deveval/{Path(relative).stem}@{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _check(options: DevEvalOptions) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in ("held_out", "reference_generator")
               if getattr(options, n) is None]
    if missing:
        raise ValueError(f"deveval build needs {', '.join(missing)}")
    unknown = [k for k in options.kinds if k not in KINDS]
    if unknown or not options.kinds:
        raise ValueError(f"unknown task kind(s) {', '.join(unknown) or '(none given)'} (known: {', '.join(KINDS)})")


def seeds(source: str | Path, options: DevEvalOptions, result: BuildResult) -> list[Input]:
    """The seed files, per language in sampling order, counting every one left out in `result`."""
    per_language: dict[str, list[Input]] = defaultdict(list)
    seen: set[str] = set()
    for item in inputs(source, ("traces", "sources")):
        lang = item.language
        if item.error or item.code is None:
            result.skipped[f"unreadable: {item.error or item.code_error or 'no text'}"] += 1
        elif lang is None or lang == "?":
            result.skipped["unknown language"] += 1
        elif options.languages is not None and lang not in options.languages:
            result.skipped["language not asked for"] += 1
        elif not item.sha256:
            result.skipped["no sha256"] += 1
        elif item.sha256 in seen:
            result.skipped["same file as another seed"] += 1
        else:
            lines = len(item.code.splitlines())
            if lines < options.min_source_lines:
                result.skipped[f"fewer than {options.min_source_lines} lines"] += 1
            elif lines > options.max_source_lines:
                result.skipped[f"more than {options.max_source_lines} lines"] += 1
            else:
                seen.add(item.sha256)
                per_language[lang].append(item)
                result.available[lang] += 1
    chosen: list[Input] = []
    for lang in sorted(per_language):
        pool = sorted(per_language[lang], key=lambda i: i.sha256)
        random.Random(f"deveval:{options.seed}:{lang}").shuffle(pool)
        taken: list[frozenset] = []
        for item in pool:
            if len(taken) >= options.per_language:
                result.skipped["not sampled (language quota full)"] += 1
                continue
            sig = shingles(item.code)
            if any(jaccard(sig, other) >= options.dedup_threshold for other in taken):
                result.skipped["near-duplicate file"] += 1
                continue
            taken.append(sig)
            chosen.append(item)
    return chosen


def write_held_out(path: Path, chosen: list[Input], source: str | Path) -> None:
    """The manifest: JSON lines, one per seed, `{"format", "benchmark", "id", "sha256",
    "language", "source_id", "origin", "code"}`, as `python -m codealchemy.tracer.dedup
    --decontaminate` reads task files (by sha256, and by 5-gram overlap with `code`)."""
    if path.suffix != ".jsonl":
        raise ValueError(f"--held-out {path}: the manifest is JSON lines; name it NAME.jsonl")
    rows_mod.write_jsonl(({"format": HELD_OUT_FORMAT, "benchmark": "deveval", "id": i.id, "sha256": i.sha256,
                           "language": i.language, "source_id": i.id, "origin": str(source), "code": i.code}
                          for i in sorted(chosen, key=lambda i: (i.language, i.sha256))), path)


def read_held_out(path: str | Path) -> set[str]:
    """The sha256s of a held-out manifest."""
    return {row["sha256"] for row in rows_mod.load_jsonl(path, "held-out manifest")}


def build(source: str | Path, options: DevEvalOptions) -> BuildResult:
    _check(options)
    reference = models.spec(options.reference_generator, options.reference_options, options.reference_params)
    result = BuildResult(tasks=[])
    chosen = seeds(source, options, result)
    write_held_out(options.held_out, chosen, source)
    templates = {k: load_prompt(f"tasks/{k}.txt") for k in options.kinds}
    tasks = []
    counter: dict[str, int] = defaultdict(int)
    for item in chosen:
        kind = options.kinds[counter[item.language] % len(options.kinds)]
        counter[item.language] += 1
        template, version = templates[kind]
        prompt = template.substitute(language=language_name(item.language), fence=item.language,
                                     code=item.code.rstrip("\n")).strip()
        tasks.append({"id": f"{item.language}-{kind}-{item.sha256[:12]}", "language": item.language, "kind": kind,
                      "prompt": prompt, "sha256": item.sha256, "source_id": item.id, "source_path": item.path,
                      "prompt_version": version})
    gen, params = models.make(reference)
    try:
        answers = models.ask(gen, params, [(t["id"], t["prompt"]) for t in tasks])
    finally:
        models.close(gen)
    for task, answer in zip(tasks, answers, strict=True):
        if answer.error is not None or not answer.text.strip():
            result.skipped[f"reference failed: {(answer.error or 'empty answer')[:120]}"] += 1
            continue
        task["reference"] = answer.text
        task["reference_generator"] = {"generator": gen.name, "model": gen.model, "params": reference["params"]}
        result.tasks.append(task)
    result.tasks.sort(key=lambda t: (t["language"], t["kind"], t["id"]))
    return result
