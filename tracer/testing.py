"""The `codealchemy.testing` pytest plugin: fixtures for language and plugin authors.

`tracer` traces a program for real (sandboxed) and runs it untraced for comparison; goldens
are JSON lines of the events (header and footer left out: they hold timings), rewritten when
CODEALCHEMY_UPDATE_GOLDENS=1. Every language's tests do the same with their fixtures: `runs`
traces and runs each program once for a module; `check_golden`, `check_same_run` and
`check_lines_kept` are the checks they share.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import plugins
from .backends import PhaseResult, RunResult
from .instrument import Failure, Instrumented, Skip
from .limits import Limits
from .records import EVENT_KINDS
from .tracing import STDERR_TAIL, run_untraced, trace_source


@dataclass
class Traced:
    records: list[dict]

    @property
    def header(self) -> dict:
        return self.records[0]

    @property
    def footer(self) -> dict:
        return self.records[-1]

    @property
    def events(self) -> list[dict]:
        return [r for r in self.records if r["kind"] in EVENT_KINDS]

    @property
    def stdout(self) -> str:
        return self.output("stdout")

    @property
    def stderr(self) -> str:
        return self.output("stderr")

    def output(self, stream: str) -> str:
        return "".join(e["text"] for e in self.events if e["kind"] == "output" and e["stream"] == stream)


class Tracer:
    def __init__(self, backend: str = "local", **limits):
        self.backend = plugins.backends()[backend]()
        self.limits = Limits().merged(limits)

    def trace(self, path: str | Path, language: str | None = None, **limits) -> Traced:
        path = Path(path)
        lang = plugins.languages().get(language) if language else plugins.languages().for_path(path)
        records = list(trace_source(path.read_bytes(), lang, source=str(path), backend=self.backend,
                                    limits=self.limits.merged(limits)))
        return Traced(records)

    def untraced(self, path: str | Path, language: str | None = None, **limits) -> RunResult:
        path = Path(path)
        lang = plugins.languages().get(language) if language else plugins.languages().for_path(path)
        return run_untraced(path.read_text(encoding="utf-8"), lang, self.backend, self.limits.merged(limits))


class Runs:
    """Each program traced and run untraced once, on first use: a language's tests look at the
    same runs several times (golden, traced == untraced, the language's own checks), so a
    module-scoped fixture returns one of these. `prefetch`: programs run all at once on
    `workers` threads at the first call (compilers and the sandbox wait part of the time)."""

    def __init__(self, tracer: Tracer | None = None, prefetch: Iterable[Path] = (), workers: int = 1):
        self.tracer = tracer or Tracer()
        self.prefetch, self.workers = list(prefetch), workers
        self.cache: dict[Path, tuple[Traced, RunResult]] = {}

    def one(self, path: Path) -> tuple[Traced, RunResult]:
        return self.tracer.trace(path), self.tracer.untraced(path)

    def __call__(self, path: str | Path) -> tuple[Traced, RunResult]:
        path = Path(path)
        if self.prefetch:
            every, self.prefetch = self.prefetch, []
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                self.cache.update(zip(every, pool.map(self.one, every), strict=True))
        if path not in self.cache:
            self.cache[path] = self.one(path)
        return self.cache[path]


def check_same_run(traced: Traced, plain: PhaseResult, *, same_stderr: str = "never",
                   failure_tail: bool = False) -> None:
    """Tracing changed nothing the program shows: it ran (ok or a runtime error) with no event
    dropped or cut, with the stdout and exit code of its untraced run `plain`. What stderr a
    language can compare differs (stack traces may name the rewritten code): `same_stderr`
    "always" or "ok" (only when the run was ok) compares the stderr output, `failure_tail` the
    footer's stderr of a failed run with the untraced stderr (or stdout)'s tail."""
    footer = traced.footer
    assert footer["status"] in ("ok", "runtime_error"), footer
    assert footer["dropped"] == 0 and not footer["truncated"]
    assert traced.stdout == plain.stdout.decode("utf-8")
    assert footer["exit_code"] == plain.exit_code
    if same_stderr == "always" or (same_stderr == "ok" and footer["status"] == "ok"):
        assert traced.stderr == plain.stderr.decode("utf-8")
    if failure_tail and footer["status"] == "runtime_error":
        assert footer["stderr"] == (plain.stderr or plain.stdout).decode("utf-8")[-STDERR_TAIL:]


def check_lines_kept(source: str, result: Instrumented | Skip | Failure, trailing: int = 0) -> None:
    """Probes only insert text on the lines they report: every original line is still on its
    line, its characters in order inside the new one, so the language's own messages (errors,
    stack traces) name the right lines. `trailing`: how many lines may follow the last one."""
    assert isinstance(result, Instrumented), result
    assert 0 <= result.code.count("\n") - source.count("\n") <= trailing
    for a, b in zip(source.splitlines(), result.code.splitlines(), strict=not trailing):
        rest = iter(b)
        assert all(ch in rest for ch in a), (a, b)  # the original line, in order, inside the new one


def check_golden(events: list[dict], golden: Path) -> None:
    """Compare events with a golden file (JSON lines); write it when asked to."""
    text = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in events)
    if os.environ.get("CODEALCHEMY_UPDATE_GOLDENS") == "1":
        golden.write_text(text, encoding="utf-8")
        return
    if not golden.exists():
        raise AssertionError(f"golden {golden} is missing (write it with CODEALCHEMY_UPDATE_GOLDENS=1)")
    expected = [json.loads(line) for line in golden.read_text(encoding="utf-8").splitlines() if line]
    assert events == expected, f"trace differs from {golden.name}"


@pytest.fixture(scope="session")
def tracer() -> Tracer:
    return Tracer()


@pytest.fixture(scope="module")
def runs() -> Runs:
    """`runs(path)` -> (traced, untraced run), each program run once per test module."""
    return Runs()


# The small local model: llama.cpp's real OpenAI-compatible server, for generator and strategy tests.

@pytest.fixture(scope="session")
def llama_server():
    """llama.cpp's server with the bundled SmolLM2-135M-Instruct on a free 127.0.0.1 port for the
    session (`.base_url`, `.model`); skipped, saying how to install it, where scripts/llm.sh has not run."""
    from .generators.llamacpp import LlamaServer, missing_reason

    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with LlamaServer() as server:
        yield server


@pytest.fixture
def small_model(llama_server):
    """An `openai` generator on the session's small-model server (fresh failure ledger per test)."""
    from .generators.openai import OpenAIGenerator

    with OpenAIGenerator(model=llama_server.model, base_url=llama_server.base_url, api_key="", concurrency=4) as gen:
        yield gen


# --- For strategy and benchmark authors: a small dump and corpus, the small model as `trace gen`
# --- options, the inputs `trace gen` hands a strategy, and a row checker (docs/plugins.md).

SMALL_PROGRAMS = {
    "fib.py": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
              "print(fib(10))\n",
    "words.py": "text = 'the cat saw the dog'\ncounts = {}\nfor w in text.split():\n"
                "    counts[w] = counts.get(w, 0) + 1\nprint(sorted(counts.items()))\n",
    "crash.py": "def div(a, b):\n    return a / b\n\nprint(div(6, 3))\nprint(div(1, 0))\n",
}


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """A folder of a few small Python programs (one ends in an exception): a corpus for `trace gen`."""
    root = tmp_path_factory.mktemp("small_corpus")
    for name, code in SMALL_PROGRAMS.items():
        (root / name).write_text(code, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def small_dump(small_corpus, tmp_path_factory) -> Path:
    """A dump of `small_corpus`'s programs traced for real, as `trace run --out` writes it;
    skipped, with the reason, where Python cannot be traced on this machine."""
    from .records import DumpWriter

    dump = tmp_path_factory.mktemp("small_dump") / "dump"
    traces = [Tracer().trace(small_corpus / name).records for name in SMALL_PROGRAMS]
    bad = [t[-1] for t in traces if t[-1].get("status") not in ("ok", "runtime_error")]
    if bad:
        pytest.skip(f"python does not trace here: {bad[0].get('status')}: {bad[0].get('reason')}")
    with DumpWriter(dump, shard="small") as writer:
        for t in traces:
            writer.add(t)
    return dump


@pytest.fixture
def small_model_args(llama_server) -> list[str]:
    """The `trace gen` / `trace eval ... predict` options that use the session's small-model server."""
    return ["--generator", "openai", "--option", f"base_url={llama_server.base_url}",
            "--option", f"model={llama_server.model}", "--option", "api_key="]


def inputs(source: str | Path, consumes: Iterable[str] = ("traces", "sources")) -> list:
    """The `Input`s that `trace gen` would hand a strategy's process() for a dump or a corpus."""
    from .generation import inputs as read_inputs

    return list(read_inputs(source, tuple(consumes)))


def check_rows(rows_or_path: Iterable[dict] | str | Path) -> list[dict]:
    """Assert that every row has the released columns, provenance and form (a failure row: a
    status and reason); return the rows. Accepts rows or a JSON-lines / Parquet file."""
    from . import rows as rows_mod

    got = rows_mod.read_rows(rows_or_path) if isinstance(rows_or_path, str | Path) else list(rows_or_path)
    for i, r in enumerate(got):
        problems = rows_mod.problems(r)
        assert not problems, f"row {i}: {'; '.join(problems)}: {json.dumps(r, default=str)[:500]}"
    return got
