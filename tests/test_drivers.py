"""Library files: entry-point detection per language, and drivers written by a generator,
traced with their file and kept only when they run and reach the file's functions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codealchemy.tracer import drivers, plugins, records
from codealchemy.tracer.generators import Completion

TRACE = [sys.executable, "-m", "codealchemy.tracer.cli"]

#: language -> (a library file: definitions only, its functions), (a program: same, plus an entry point)
CASES = {
    "python": ('"""Doc."""\nimport logging\nlog = logging.getLogger(__name__)\nLIMIT = 10\n\nclass Stack:\n'
               '    def push(self, x):\n        return x\n\n@staticmethod\ndef peek(s):\n    return s\n',
               ["push", "peek"], 'def f(a):\n    return a\n\nif __name__ == "__main__":\n    f(1)\n'),
    "javascript": ("'use strict';\nconst fs = require('fs');\nexport function add(a, b) {\n  return a + b;\n}\n"
                   "const sq = (x) => x * x;\nclass A {\n  m() { return 1; }\n}\nmodule.exports = { add };\n",
                   ["add", "sq", "m"], "function f(a) { return a; }\nconsole.log(f(1));\n"),
    "typescript": ("import { x } from './y';\nexport interface P { a: number }\ntype T = number;\n"
                   "export function f(a: number): number {\n  return a;\n}\nenum E { A }\n",
                   ["f"], "function f(a: number) { return a; }\nconst r = f(2);\n"),
    "c": ("#include <stdio.h>\nstatic int sq(int a) { return a * a; }\nint *\nfirst(int *v)\n{\n  return v;\n}\n",
          ["sq", "first"], "int sq(int a) { return a * a; }\nint main(void) { return sq(2); }\n"),
    "cpp": ("#include <vector>\nint f(int a) { return a; }\nstruct S {\n  int m() { return 1; }\n};\n"
            "int S2::g() { return 2; }\n", ["f", "m", "S2::g"], "int main() { return 0; }\n"),
    "go": ("// Package sorts sorts.\npackage sorts\n\nfunc Bubble(a []int) []int {\n\treturn a\n}\n\n"
           "type T struct{}\n\nfunc (t *T) M() int { return 1 }\n", ["Bubble", "M"],
           "package main\n\nfunc main() {}\n"),
    "rust": ("pub fn gcd(a: u64, b: u64) -> u64 {\n    if b == 0 { a } else { gcd(b, a % b) }\n}\n"
             "struct S;\nimpl S {\n    fn m(&self) -> i32 { 1 }\n}\n#[cfg(test)]\nmod tests {}\n",
             ["gcd", "m"], "fn main() {\n    println!(\"hi\");\n}\n"),
    "java": ("package a.b;\n\nimport java.util.List;\n\npublic final class Util {\n    private Util() {}\n"
             "    public static int twice(int x) {\n        return 2 * x;\n    }\n}\n", ["Util", "twice"],
             "class M {\n    public static void main(String[] args) {}\n}\n"),
    "csharp": ("using System;\nnamespace N {\n  class A {\n    public static int F(int a) { return a; }\n  }\n}\n",
               ["F"], "class A {\n  static void Main() {}\n}\n"),
    "ruby": ("require 'set'\nMAX = 3\nmodule M\n  def self.f(x)\n    x\n  end\nend\nprivate\ndef g(y)\n  y\nend\n",
             ["f", "g"], "def g(y)\n  y\nend\nputs g(1)\n"),
    "php": ("<?php\ndeclare(strict_types=1);\nnamespace A;\nuse B\\C;\nrequire_once 'x.php';\n"
            "function f($a) { return $a; }\nclass K { public function m() { return 1; } }\n?>\n",
            ["f", "m"], "<?php\nfunction f($a) { return $a; }\necho f(1);\n"),
    "bash": ("#!/bin/bash\nset -euo pipefail\nsource ./lib.sh\nX=1\nexport Y=2\nf() { echo \"$1\"; }\n"
             "function g { :; }\n", ["f", "g"], "f() { echo \"$1\"; }\nf 3\n"),
    "swift": ("import Foundation\nlet limit = 5\nfunc f(_ a: Int) -> Int { return a }\n"
              "struct S {\n  func m() -> Int { return 1 }\n}\n", ["f", "m"],
              "@main struct App {\n  static func main() {}\n}\n"),
}


@pytest.mark.parametrize("lang_id", sorted(CASES))
def test_a_file_of_definitions_has_no_entry_point_and_a_program_has_one(lang_id):
    lang = plugins.languages().get(lang_id)
    library, functions, program = CASES[lang_id]
    found = drivers.shape(library.encode(), lang)
    assert found is not None and not found.entry
    assert [f.name for f in found.functions] == functions
    assert drivers.shape(program.encode(), lang).entry


def test_an_sql_script_always_has_an_entry_point():
    assert drivers.shape(b"CREATE TABLE t(a);\n", plugins.languages().get("sql")).entry


@pytest.mark.parametrize(("lang_id", "code"), [
    ("python", "def f():\n    return 1\n\nx = f()\n"),             # a constant made by the file's own function runs it
    ("python", "def f():\n    return 1\n\nprint(f())\n"),
    ("javascript", "function f() { return 1; }\nconst r = f();\n"),
    ("ruby", "def f\n  1\nend\nX = f\nputs X\n"),
])
def test_top_level_code_that_calls_the_files_functions_is_an_entry_point(lang_id, code):
    assert drivers.shape(code.encode(), plugins.languages().get(lang_id)).entry


def test_every_fixture_program_of_every_language_has_an_entry_point():
    """The languages' fixtures are runnable programs: none may be taken for a library file."""
    seen = 0
    for lang in plugins.languages():
        for path in sorted((lang.instrumenter_dir / "tests" / "fixtures").rglob("*")):
            if path.is_file() and path.suffix in lang.extensions:
                found = drivers.shape(path.read_bytes(), lang)
                assert found is None or found.entry or not found.functions, path
                seen += 1
    assert seen > 100


def test_a_driver_joins_its_file_without_moving_the_files_lines():
    go = plugins.languages().get("go")
    file = "// Package p.\npackage p\n\nimport (\n\t\"fmt\"\n)\n\nfunc F() string {\n\treturn fmt.Sprint(1)\n}\n"
    driver = ("package main\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\n"
              "func main() {\n\tfmt.Println(strings.ToUpper(F()))\n}\n")
    joined = drivers.combine(file.encode(), driver, go).decode()
    lines = joined.splitlines()
    assert lines[1] == 'package main; import "strings"'   # the file's own "fmt" is not imported twice
    assert lines[2:10] == file.splitlines()[2:10] and lines[10] == "func main() {"
    java = plugins.languages().get("java")
    joined = drivers.combine(b"package a;\n\nclass U {}\n", "import java.util.List;\nclass Driver {}\n", java).decode()
    assert joined.splitlines() == ["package a; import java.util.List;", "", "class U {}", "class Driver {}"]
    py = plugins.languages().get("python")
    file = "class Stack:\n    pass\n\ndef push(s):\n    return s\n"
    driver = ("from stack import push, Stack\nfrom stack import Stack as S\nfrom math import sqrt\n"
              "from lib import (push,\n    Stack)\nprint(push(Stack()))\n")
    assert drivers.combine(file.encode(), driver, py).decode().splitlines()[5:] == [
        "from stack import Stack as S", "from math import sqrt", "", "print(push(Stack()))"]
    ts = plugins.languages().get("typescript")
    driver = ("import { f } from './your-file-name.ts';\nimport {\n  g,\n} from \"../lib\";\n"
              "import * as fs from 'fs';\nconst h = require('./h');\nconsole.log(f(1));\n")
    joined = drivers.combine(b"export function f(a: number) { return a; }\n", driver, ts).decode()
    assert joined.splitlines()[1:] == ["import * as fs from 'fs';", "", "console.log(f(1));"]
    ruby = plugins.languages().get("ruby")
    driver = "require_relative 'f'\nrequire './f.rb'\nrequire 'set'\nputs f(1)\n"
    joined = drivers.combine(b"def f(x)\n  x\nend\n", driver, ruby).decode()
    assert joined.splitlines()[3:] == ["require 'set'", "puts f(1)"]
    php = plugins.languages().get("php")
    joined = drivers.combine(b"<?php\nfunction f() { return 1; }\n?>\n", "<?php\necho f();\n", php).decode()
    assert joined.splitlines() == ["<?php", "function f() { return 1; }", "", "echo f();"]
    assert drivers.first_line(b"<?php\nfunction f() { return 1; }\n?>\n") == 4 == drivers.first_line(b"a\nb\nc")


def test_coverage_counts_the_functions_whose_bodies_ran():
    fs = (drivers.Function("f", "def f():", 1, 2), drivers.Function("g", "def g():", 4, 8),
          drivers.Function("inner", "def inner():", 5, 6))
    trace = [{"kind": "line", "func": "<module>", "line": 1},    # the def statement itself: not f's body
             {"kind": "line", "func": "Box.g", "line": 7},
             {"kind": "line", "func": "g", "line": 5}]           # inner's lines are inner's, not g's
    assert [f.name for f in drivers.covered(trace, fs)] == ["g"]


class Answers:
    """A unit-test generator: the same answer to every request."""

    name, model = "canned", "canned-1"

    def __init__(self, text: str):
        self.text = text

    def generate(self, requests, params):
        return [Completion(r.id, text=self.text) for r in requests]


LIB_PY = "def double(a):\n    return a * 2\n\n\ndef unused(b):\n    return b\n"


def test_without_a_generator_a_library_file_is_no_entry_point(tmp_path):
    path = tmp_path / "lib.py"
    path.write_text(LIB_PY)
    got = subprocess.run([*TRACE, "run", "--json", str(path)], capture_output=True, text=True, timeout=120)
    foot = json.loads(got.stdout.splitlines()[-1])
    assert got.returncode == 2 and foot["status"] == "no_entry_point" and foot["functions"] == 2
    assert "no entry point" in foot["reason"] and "no_entry_point" in got.stderr


def test_an_answer_without_code_is_a_rejected_driver_with_its_reason():
    lang = plugins.languages().get("python")
    got = drivers.trace_input("lib.py", LIB_PY.encode(), backend=plugins.backends()["local"](sandbox="none"),
                              drivers=drivers.Drivers(Answers("I cannot help with that.")))
    foot = got[-1]
    assert foot["status"] == "no_entry_point" and foot["driver"]["status"] == "rejected"
    assert foot["driver"]["reason"] == "the answer has no code block" and foot["driver"]["answer"]
    assert drivers.Drivers(Answers("")).prompt(LIB_PY.encode(), lang, drivers.shape(LIB_PY.encode(), lang)).count(
        "- def ") == 2


class Turns:
    """A unit-test generator: the n-th request gets the n-th answer; it keeps the prompts."""

    name, model = "turns", "turns-1"

    def __init__(self, *texts: str):
        self.texts, self.prompts = list(texts), []

    def generate(self, requests, params):
        self.prompts += [r.text() for r in requests]
        return [Completion(r.id, text=self.texts.pop(0)) for r in requests]


def test_a_rejected_driver_is_shown_to_the_model_with_its_error_and_the_retry_is_kept():
    backend = plugins.backends()["local"](sandbox="none")
    gen = Turns("```python\nprint(triple(21))\n```", "```python\nprint(double(21))\n```")
    got = drivers.trace_input("lib.py", LIB_PY.encode(), backend=backend, drivers=drivers.Drivers(gen, attempts=2))
    d = got[-1]["driver"]
    assert got[-1]["status"] == "ok" and d["status"] == "verified" and d["attempts"] == 2
    assert len(d["earlier"]) == 1 and "NameError" in d["earlier"][0]
    assert "print(triple(21))" in gen.prompts[1] and "NameError" in gen.prompts[1] and gen.prompts[1].startswith(
        gen.prompts[0])
    one = Turns("```python\nprint(triple(21))\n```")
    got = drivers.trace_input("lib.py", LIB_PY.encode(), backend=backend, drivers=drivers.Drivers(one, attempts=1))
    assert got[-1]["status"] == "no_entry_point" and got[-1]["driver"]["attempts"] == 1 and len(one.prompts) == 1
    again = Turns("```python\nprint(triple(21))\n```", "```python\nprint(triple(2))\n```")
    got = drivers.trace_input("lib.py", LIB_PY.encode(), backend=backend, drivers=drivers.Drivers(again, attempts=2))
    d = got[-1]["driver"]
    assert (d["status"], d["attempts"], len(d["earlier"]), d["source"]) == ("rejected", 2, 1, "print(triple(2))\n")
    assert "NameError" in d["reason"]


def _driver_file(tmp_path: Path, answers: dict[str, tuple[str, str]]) -> Path:
    """A `file` generator's JSON lines: for each file (name -> language, driver), the prompt that
    file gets and the answer."""
    rows = []
    for name, (lang_id, driver) in answers.items():
        lang = plugins.languages().get(lang_id)
        data = (tmp_path / "corpus" / name).read_bytes()
        prompt = drivers.Drivers(Answers("")).prompt(data, lang, drivers.shape(data, lang))
        rows.append({"prompt": prompt, "completion": f"Here it is:\n```{lang_id}\n{driver}```\n"})
    path = tmp_path / "drivers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_trace_batch_keeps_a_driver_that_runs_and_rejects_one_that_fails_with_its_reason(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.py").write_text(LIB_PY)
    (corpus / "bad.py").write_text("# another file, so another prompt\n" + LIB_PY)
    (corpus / "own.py").write_text("# a third\n" + LIB_PY)
    (corpus / "prog.py").write_text("print(1)\n")
    (corpus / "strings.go").write_text("// Package strs.\npackage strs\n\nimport \"strings\"\n\n"
                                       "func Shout(s string) string {\n\treturn strings.ToUpper(s) + \"!\"\n}\n")
    (corpus / "sq.js").write_text("function sq(x) {\n  return x * x;\n}\n")
    (corpus / "Util.java").write_text("public final class Util {\n    static int twice(int x) {\n"
                                      "        return 2 * x;\n    }\n}\n")
    answers = _driver_file(tmp_path, {
        # the file imported by a made-up relative path, as models write it against the prompt
        "sq.js": ("javascript", "const { sq } = require('./your-file-name');\nconsole.log(sq(7));\n"),
        # public, as models write it against the prompt: javac takes one public class per file
        "Util.java": ("java", "public class Driver {\n    public static void main(String[] a) {\n"
                              "        System.out.println(Util.twice(21));\n    }\n}\n"),
        "good.py": ("python", "print(double(21))\n"),
        "bad.py": ("python", "print(triple(21))\n"),
        # the file imported by a made-up module name, as models write it against the prompt
        "own.py": ("python", "from lib import double, unused\nprint(double(4))\n"),
        "strings.go": ("go", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(Shout(\"hi\"))\n}\n"),
    })
    got = subprocess.run([*TRACE, "batch", str(corpus), "--out", str(tmp_path / "dump"), "--workers", "1",
                          "--driver-generator", "file", "--driver-option", f"path={answers}", "--driver-attempts", "1"],
                         capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr
    index = {Path(e["source"]).name: e for e in records.dump_index(tmp_path / "dump")}
    traces = {name: records.dump_trace(tmp_path / "dump", e) for name, e in index.items()}

    good = traces["good.py"]
    d = good[-1]["driver"]
    assert good[-1]["status"] == "ok" and d["status"] == "verified" and d["generator"] == "file", d["reason"]
    assert (d["covered"], d["functions"], d["coverage"], d["covered_functions"]) == (1, 2, 0.5, ["double"])
    assert d["source"] == "print(double(21))\n" and d["first_line"] == 7
    assert d["prompt_version"] == drivers.PROMPT_VERSION
    assert {"kind": "output", "stream": "stdout", "text": "42\n"} in good
    assert any(e["kind"] == "call" and e["func"] == "double" and e["args"] == {"a": "21"} for e in good)

    bad = traces["bad.py"][-1]
    assert bad["status"] == "no_entry_point" and bad["driver"]["status"] == "rejected"
    assert "runtime_error" in bad["driver"]["reason"] and "NameError" in bad["driver"]["reason"]
    assert bad["driver"]["source"] == "print(triple(21))\n" and "rejected" in bad["reason"]

    own = traces["own.py"]
    assert own[-1]["status"] == "ok" and own[-1]["driver"]["covered_functions"] == ["double"], own[-1]
    assert {"kind": "output", "stream": "stdout", "text": "8\n"} in own

    go = traces["strings.go"]
    assert go[-1]["status"] == "ok" and go[-1]["driver"]["covered_functions"] == ["Shout"], go[-1]
    assert {"kind": "output", "stream": "stdout", "text": "HI!\n"} in go
    js = traces["sq.js"]
    assert js[-1]["status"] == "ok" and js[-1]["driver"]["covered_functions"] == ["sq"], js[-1]
    assert {"kind": "output", "stream": "stdout", "text": "49\n"} in js
    java = traces["Util.java"]
    assert java[-1]["status"] == "ok" and java[-1]["driver"]["covered_functions"] == ["twice"], java[-1]
    assert {"kind": "output", "stream": "stdout", "text": "42\n"} in java
    assert traces["prog.py"][-1]["status"] == "ok" and "driver" not in traces["prog.py"][-1]
    assert index["good.py"]["status"] == "ok" and index["bad.py"]["status"] == "no_entry_point"
    assert (index["good.py"]["driver"], index["bad.py"]["driver"], "driver" in index["prog.py"]) == (
        "verified", "rejected", False)
    summary = subprocess.run([*TRACE, "batch", str(corpus), "--out", str(tmp_path / "dump"), "--json",
                              "--driver-generator", "file", "--driver-option", f"path={answers}",
                              "--driver-attempts", "1"],
                             capture_output=True, text=True, timeout=120)   # resumes: all shards done
    python = next(r for r in json.loads(summary.stdout) if r["language"] == "python")
    assert python["drivers"] == {"verified": 2, "rejected": 1} and python["failed"] == {"no_entry_point": 1}


def test_the_small_model_writes_drivers_and_each_is_verified_or_rejected_with_its_reason(tmp_path, llama_server):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lib.py").write_text(LIB_PY)
    got = subprocess.run([*TRACE, "batch", str(corpus), "--out", str(tmp_path / "dump"), "--workers", "1",
                          "--driver-generator", "openai", "--driver-option", f"base_url={llama_server.base_url}",
                          "--driver-option", f"model={llama_server.model}", "--driver-option", "api_key=",
                          "--driver-param", "max_tokens=64"], capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr
    entries = records.dump_index(tmp_path / "dump")
    assert len(entries) == 1
    for e in entries:
        foot = records.dump_trace(tmp_path / "dump", e)[-1]
        d = foot["driver"]
        assert d["generator"] == "openai" and d["model"] and d["functions"] == 2
        if d["status"] == "verified":
            assert foot["status"] == "ok" and d["covered"] >= 1 and d["source"]
        else:
            assert d["status"] == "rejected" and foot["status"] == "no_entry_point" and d["reason"]


def test_trace_run_traces_a_c_file_with_its_driver_and_refuses_driver_options_alone(tmp_path):
    (tmp_path / "corpus").mkdir()
    lib = tmp_path / "corpus" / "lib.c"
    lib.write_text("int add(int a, int b) {\n  return a + b;\n}\n")
    answers = _driver_file(tmp_path, {"lib.c": ("c", '#include <stdio.h>\nint main(void) {\n'
                                                     '  printf("%d\\n", add(2, 3));\n  return 0;\n}\n')})
    got = subprocess.run([*TRACE, "run", "--json", str(lib), "--driver-generator", "file", "--driver-option",
                          f"path={answers}"], capture_output=True, text=True, timeout=120)
    trace = [json.loads(line) for line in got.stdout.splitlines()]
    assert got.returncode == 0, got.stderr
    assert trace[-1]["driver"]["covered_functions"] == ["add"] and trace[-1]["driver"]["first_line"] == 4
    assert any(e["kind"] == "return" and e["func"] == "add" and e["value"] == "5" for e in trace)
    alone = subprocess.run([*TRACE, "run", str(lib), "--driver-option", f"path={answers}"], capture_output=True,
                           text=True, timeout=60)
    assert alone.returncode == 2 and "need --driver-generator" in alone.stderr


def test_a_failed_drivers_reason_is_the_runtimes_error_line():
    got = drivers.trace_input("lib.js", b"function f(a) {\n  return a;\n}\n",
                              backend=plugins.backends()["local"](sandbox="none"),
                              drivers=drivers.Drivers(Answers("```javascript\nconsole.log(g(1));\n```")))
    reason = got[-1]["driver"]["reason"]
    assert "runtime_error" in reason and "ReferenceError: g is not defined" in reason, reason
