"""TraceEval build: choose traces from a dump and turn them into tasks.

Selection, in this order (docs/trace-text.md, "TraceEval"):
1. from the dump index: status ok, min_events <= events <= max_events, one trace per source
   sha256 (the first in index order), languages as asked;
2. per language, traces are put in size buckets (events: 1-2, 3-4, 5-8, 9-16, ...), each
   bucket is shuffled with the seed, and the buckets are read in turn (one from each, again);
3. in that order, a trace is taken unless the tracer cut it, its program text cannot be had
   (or is longer than max_source_lines), its text has fewer than min_events steps, or its
   program is a near-duplicate (Jaccard
   similarity of token 5-gram sets >= dedup_threshold) of one already taken; until
   per_language tasks are taken.
Only traces that reach step 3 are read from the shards, so a large dump costs little.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ...tracer import records
from ...tracer.contracts import BuildResult, option
from ...tracer.render_text import (
    FORMAT_HELP,
    VERSION,
    SourceUnavailable,
    language_name,
    numbered,
    parse_steps,
    program_text,
    render,
)
from .metrics import tokenize

PROMPTS = Path(__file__).with_name("prompts")
SHINGLE = 5


@dataclass(frozen=True)
class BuildOptions:
    per_language: int = option(75, "Tasks per language, at most.")
    min_events: int = option(3, "Leave out traces with fewer events.")
    max_events: int = option(200, "Leave out traces with more events.")
    max_source_lines: int = option(120, "Leave out longer programs.")
    seed: int = option(0, "Sampling seed: the same dump and seed give the same split.")
    dedup_threshold: float = option(
        0.7, "Programs whose token 5-gram Jaccard similarity reaches this are near-duplicates.")
    languages: tuple[str, ...] | None = option(None, "Only these languages (comma-separated).")
    prompt: str = option("predict", "The prompt file (prompts/NAME.txt).")


def load_prompt(name: str) -> tuple[Template, str]:
    """A prompt template by name and its version (`name@` + the first 8 hex of its sha256)."""
    path = PROMPTS / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        known = ", ".join(sorted(p.stem for p in PROMPTS.glob("*.txt")))
        raise ValueError(f"no TraceEval prompt {name!r} (known: {known})") from None
    return Template(text), f"traceeval/{name}@{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def trace_id(entry: dict) -> str:
    """Where a trace lives in its dump: `shard:offset`."""
    return f"{entry['shard']}:{entry['offset']}"


def shingles(code: str, k: int = SHINGLE) -> frozenset:
    tokens = [t for t in tokenize(code) if t != "\\n"]
    if len(tokens) < k:
        return frozenset([tuple(tokens)])
    return frozenset(tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _bucket(events: int) -> int:
    return max(events - 1, 0).bit_length()


def _order(entries: list[dict], seed: int, language: str) -> Iterator[dict]:
    buckets: dict[int, list[dict]] = defaultdict(list)
    for e in sorted(entries, key=lambda e: (e["sha256"], trace_id(e))):
        buckets[_bucket(e["events"])].append(e)
    rng = random.Random(f"traceeval:{seed}:{language}")
    queues = []
    for key in sorted(buckets):
        rng.shuffle(buckets[key])
        queues.append(buckets[key])
    depth = 0
    while any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q):
                yield q[depth]
        depth += 1


def make_task(language: str, sha: str, code: str, trace: list[dict], template: Template, prompt_version: str,
              **extra) -> dict:
    reference = render(trace)
    prompt = template.substitute(language=language_name(language), fence=language, code=numbered(code),
                                 format=FORMAT_HELP).strip()
    return {"id": f"{language}-{sha[:12]}", "language": language, "prompt": prompt, "reference": reference,
            "source": code, "sha256": sha, "steps": len(parse_steps(reference)),
            "prompt_version": prompt_version, "format": f"trace-text/{VERSION}", **extra}


def build(dump: str | Path, options: BuildOptions = BuildOptions()) -> BuildResult:
    template, version = load_prompt(options.prompt)
    result = BuildResult(tasks=[])
    seen: set[str] = set()
    per_language: dict[str, list[dict]] = defaultdict(list)
    for entry in records.dump_index(dump):
        lang, status, events = entry.get("language") or "?", entry.get("status"), entry.get("events") or 0
        if options.languages is not None and lang not in options.languages:
            result.skipped["language not asked for"] += 1
        elif status != "ok":
            result.skipped[f"status {status}"] += 1
        elif events < options.min_events:
            result.skipped[f"fewer than {options.min_events} events"] += 1
        elif events > options.max_events:
            result.skipped[f"more than {options.max_events} events"] += 1
        elif not entry.get("sha256"):
            result.skipped["no sha256"] += 1
        elif (lang, entry["sha256"]) in seen:
            result.skipped["same source as another trace"] += 1
        else:
            seen.add((lang, entry["sha256"]))
            per_language[lang].append(entry)
            result.available[lang] += 1
    for lang in sorted(per_language):
        taken: list[frozenset] = []
        for entry in _order(per_language[lang], options.seed, lang):
            if len(taken) >= options.per_language:
                result.skipped["not sampled (language quota full)"] += 1
                continue
            trace = records.dump_trace(dump, entry)
            head, foot = trace[0], trace[-1]
            if foot.get("truncated"):
                result.skipped["cut by the tracer"] += 1
                continue
            try:
                code = program_text(head, base=Path(dump).parent)
            except SourceUnavailable as e:
                result.skipped[f"no program text: {e}"] += 1
                continue
            if len(code.splitlines()) > options.max_source_lines:
                result.skipped[f"more than {options.max_source_lines} source lines"] += 1
                continue
            task = make_task(lang, entry["sha256"], code, trace, template, version, source_path=head.get("source"),
                             trace_id=trace_id(entry), events=entry.get("events"))
            if task["steps"] < options.min_events:
                result.skipped[f"fewer than {options.min_events} steps"] += 1
                continue
            sig = shingles(code)
            if any(jaccard(sig, other) >= options.dedup_threshold for other in taken):
                result.skipped["near-duplicate source"] += 1
                continue
            taken.append(sig)
            result.tasks.append(task)
    result.tasks.sort(key=lambda t: (t["language"], t["id"]))
    return result
