"""The `codealchemy.testing` pytest plugin: fixtures for language and plugin authors.

`tracer` traces a program for real (sandboxed) and runs it untraced for comparison; goldens
are JSON lines of the events (header and footer left out: they hold timings), rewritten when
CODEALCHEMY_UPDATE_GOLDENS=1.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import plugins
from .backends import RunResult
from .limits import Limits
from .records import EVENT_KINDS
from .tracing import run_untraced, trace_source


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
        return "".join(e["text"] for e in self.events if e["kind"] == "output" and e["stream"] == "stdout")


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
