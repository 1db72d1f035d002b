"""Checks of what a model wrote, shared by the strategies that verify their rows: the code blocks
of an answer, whether code parses (tree-sitter, the grammar the tracer uses), and what a program
prints and exits with when the tracer runs it on the local backend."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from . import plugins, treesitter
from .languages import UnknownLanguage
from .limits import resolve
from .render_text import stdout_text

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
#: one-token changes that plant a bug: (pattern, replacement; None adds 1 to a number), in this order
MUTATIONS = ((r"(?<=[\w)\] ])\+(?=[ \w(])", "-"), (r"(?<=[\w)\] ])-(?=[ \w(])", "+"), (r"<(?![=<])", "<="),
             (r">(?![=>])", ">="), (r"==", "!="), (r"\b(\d+)\b", None))
#: footer statuses of a run whose output can be compared (the program ran to its end)
RAN = ("ok", "runtime_error")


def code_blocks(text: str) -> list[tuple[str, str]]:
    """The fenced blocks of a model answer, (fence language, code); an unclosed last fence counts
    (a small max_tokens cuts answers short)."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text or "")]


def first_code(text: str) -> str | None:
    blocks = code_blocks(text)
    return blocks[0][1] if blocks else None


def syntax_error(code: str, language: str) -> str | None:
    """Where tree-sitter finds the first error in `code` ("line N: ERROR"), None when it parses."""
    lang = plugins.languages().get(language)
    node = treesitter.first_error(treesitter.parse(lang.grammar, code.encode("utf-8", "surrogatepass")).root_node)
    if node is None:
        return None
    return f"line {node.start_point[0] + 1}: {'missing ' + node.type if node.is_missing else node.type}"


def has_syntax_error(code: str, language: str) -> bool | None:
    """True/False, or None where the language has no grammar here."""
    try:
        return syntax_error(code, language) is not None
    except (UnknownLanguage, ImportError, AttributeError):
        return None


@dataclass(frozen=True)
class Run:
    """A program's outcome as its trace tells it: `comparable` when it ran to its end with its
    whole output recorded, so stdout and exit code can stand for its behaviour."""

    status: str
    exit_code: int | None
    stdout: str
    truncated: bool
    reason: str | None
    records: list[dict] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def of(cls, records: list[dict]) -> Run:
        foot = records[-1] if records and records[-1].get("kind") == "footer" else {}
        return cls(foot.get("status", "no_footer"), foot.get("exit_code"), stdout_text(records),
                   bool(foot.get("truncated")), foot.get("reason"), records)

    @property
    def comparable(self) -> bool:
        return self.status in RAN and not self.truncated

    def why_not(self) -> str:
        return "its trace was truncated" if self.truncated else f"it did not run to its end: {self.status}" + (
            f" ({self.reason})" if self.reason else "")

    def same_as(self, other: Run) -> tuple[bool, str]:
        """Same stdout and exit code as `other` (the reference), and what differs."""
        if self.exit_code != other.exit_code:
            return False, f"exit code {self.exit_code}, expected {other.exit_code}"
        if self.stdout != other.stdout:
            return False, f"stdout differs ({len(self.stdout)} vs {len(other.stdout)} characters)"
        return True, "same stdout and exit code"


class Runner:
    """Traces programs with a backend (local by default) made at first use, so a strategy that
    never runs code starts none; results are kept by (language, code), a seed runs once."""

    def __init__(self, backend: str = "local"):
        self.backend_name = backend
        self._backend: Any = None
        self._seen: dict[tuple[str, str], Run] = {}

    def run(self, code: str, language: str, name: str | None = None) -> Run:
        from .tracing import trace_source

        key = (language, code)
        if key not in self._seen:
            if self._backend is None:
                self._backend = plugins.backends()[self.backend_name]()
            try:
                lang = plugins.languages().get(language)
            except UnknownLanguage as e:
                return Run("input_error", None, "", False, str(e))
            records = list(trace_source(code.encode("utf-8", "surrogatepass"), lang,
                                        source=name or lang.runtime.source, backend=self._backend,
                                        limits=resolve(lang.runtime.limits)))
            self._seen[key] = Run.of(records)
        return self._seen[key]

    def seed(self, inp: Any) -> Run:
        """A seed's run: a trace input's own records, else the source traced now."""
        if inp.records:
            return Run.of(inp.records)
        return self.run(inp.code, inp.language)

    def close(self) -> None:
        close = getattr(self._backend, "close", None)
        if close is not None:
            close()
        self._backend, self._seen = None, {}


def plant_bug(code: str, language: str, runner: Runner, reference: Run, key: str, tries: int = 3) -> str | None:
    """`code` with one operator or number changed: the first of `tries` candidates (starting at a
    place chosen by `key`) that still runs and prints or exits differently from `reference`."""
    lines = code.splitlines(keepends=True)
    candidates = []
    for n, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith(("#", "//", "--", "/*", "*")):
            continue
        for pattern, repl in MUTATIONS:
            for m in re.finditer(pattern, line):
                new = str(int(m.group(1)) + 1) if repl is None else repl
                candidates.append("".join(lines[:n] + [line[:m.start()] + new + line[m.end():]] + lines[n + 1:]))
    start = int(hashlib.sha256(key.encode()).hexdigest(), 16) % max(len(candidates), 1)
    for cand in (candidates[start:] + candidates[:start])[:tries]:
        got = runner.run(cand, language)
        if got.status in RAN and not got.same_as(reference)[0]:
            return cand
    return None
