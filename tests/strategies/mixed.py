"""A small mixed corpus for the LLM strategies' tests, `trace gen` run as a real process, a scripted generator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codealchemy.tracer.testing import SMALL_PROGRAMS

MIXED = {
    "fib.py": SMALL_PROGRAMS["fib.py"],
    "crash.py": SMALL_PROGRAMS["crash.py"],
    "sum.js": "function sum(xs) {\n  let s = 0;\n  for (const x of xs) s += x;\n  return s;\n}\n"
              "console.log(sum([1, 2, 3, 4]));\n",
    "greet.rb": "def greet(name)\n  \"hello, #{name}\"\nend\n\nputs greet(\"ada\")\nputs 2 + 3\n",
}
#: what each program prints, run by hand
STDOUT = {"fib.py": "55\n", "crash.py": "2.0\n", "sum.js": "10\n", "greet.rb": "hello, ada\n5\n"}


@pytest.fixture(scope="session")
def mixed_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mixed_corpus")
    for name, code in MIXED.items():
        (root / name).write_text(code, encoding="utf-8")
    return root


def trace_gen(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codealchemy.tracer.cli", "gen", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


class Scripted:
    """A test double of a generator for the checking logic: answers each request with
    `answer(request)` (the real model rarely answers right, so a right answer is scripted)."""

    name, model = "scripted", "scripted"

    def __init__(self, answer):
        self.answer = answer

    def generate(self, requests, params):
        from codealchemy.tracer.generators import Completion

        return [Completion(r.id, text=self.answer(r)) for r in requests]
