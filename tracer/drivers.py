"""Drivers for library files: most real files only define functions and classes, so running
them alone traces nothing of what they define (or, for C, Go, Java and the like, fails to link).

What an entry point is, what the file's functions are and how a driver joins the file are
facts of each language, in the `[driver]` table of its `runtimes/<id>/runtime.toml`:
- `entry_point`: a tree-sitter query; the file has an entry point when it captures an `@entry`
  node that it does not also capture `@inert` (a definition, an import, a constant); an
  `@inert` node holding a `@call` of one of the file's own functions is not inert;
- `functions`: captures each `@function` node and its `@name` (the first one inside it);
- `hint`: what the driver is, for the prompt;
- `file_edits` / `driver_edits`: [regex, replacement] pairs applied to the file (line count
  kept: Go's package becomes main) or to the driver (PHP's `<?php` tag goes);
- `own_imports`: a query over the driver whose `@import` nodes go when every `@name` they bind
  is one the file defines (its functions, and what the `defines` query captures as `@name`):
  models import the file they were shown by a made-up module name;
- `hoist`: a query over the driver whose `@hoist` nodes (its imports) move to the end of the
  file's `anchor` capture (its package line), else to the start of its first line, each `@item`
  in them written by `hoist_format`; so the file's lines keep their numbers.

Without a driver generator, a file with no entry point gets the status `no_entry_point`. With
one (`Drivers`), a model writes a driver (prompt: `prompts/driver.txt`, versioned by hash), the
file and driver are traced together by the real tracer, and the trace is kept only if it ran
(status ok) and reached at least one of the file's functions; the footer's `driver` says which
driver, by which model, and how many of the functions' bodies ran. A rejected driver leaves a
`no_entry_point` record whose `driver` says why.
"""

from __future__ import annotations

import functools
import json
import multiprocessing.util
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from . import plugins, tracing, treesitter
from .backends import Backend
from .contracts import prompt_version
from .generators import GenerationParams, GeneratorError, Request
from .languages import Language, UnknownLanguage
from .limits import resolve
from .records import footer, header, sha256, truncate
from .tracing import TOOL, InputError, code_fields, detect, read_source, trace_source
from .verify import first_code

PROMPTS = Path(__file__).resolve().parent / "prompts"
PROMPT_VERSION = prompt_version(PROMPTS, "driver")
MAX_SIGNATURE = 200
STDERR_TAIL = 1000


@dataclass(frozen=True)
class Function:
    name: str
    signature: str   # the definition up to its name's line, for the prompt
    start: int       # first and last line, 1-based
    end: int


@dataclass(frozen=True)
class Shape:
    """What a file offers a run: an entry point or not, and its functions."""

    entry: bool
    functions: tuple[Function, ...]


def shape(data: bytes, lang: Language) -> Shape | None:
    """The file's shape; None where the language says nothing about entry points, or the file is
    not text that parses (the tracer then decides, as without drivers)."""
    facts = lang.runtime.driver
    if not facts.get("entry_point") or b"\0" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    root = treesitter.parse(lang.grammar, data).root_node
    if root.has_error and lang.syntax == "strict":
        return None
    functions = _functions(lang, facts.get("functions"), root, data)
    own = {f.name for f in functions}
    caps = treesitter.captures(lang.grammar, facts["entry_point"], root)
    inert = {_span(n) for name, n in caps if name == "inert"}
    for name, n in caps:   # a constant made by calling the file's own function runs it: not inert
        if name == "call" and n.text.decode("utf-8", "replace") in own:
            inert = {s for s in inert if not s[0] <= n.start_byte < s[1]}
    entry = any(name == "entry" and _span(n) not in inert for name, n in caps)
    return Shape(entry, functions)


def _span(node) -> tuple[int, int]:
    return node.start_byte, node.end_byte


def _functions(lang: Language, query: str | None, root, data: bytes) -> tuple[Function, ...]:
    if not query:
        return ()
    caps = treesitter.captures(lang.grammar, query, root)
    names = [n for kind, n in caps if kind == "name"]
    found = []
    for kind, node in caps:
        if kind != "function":
            continue
        name = next((n for n in names if node.start_byte <= n.start_byte < node.end_byte), None)
        if name is None:
            continue
        head_end = data.find(b"\n", name.end_byte)
        head = data[node.start_byte:head_end if head_end >= 0 else node.end_byte].decode("utf-8", "replace")
        found.append(Function(name.text.decode("utf-8", "replace"), truncate(" ".join(head.split()), MAX_SIGNATURE),
                              node.start_point[0] + 1, node.end_point[0] + 1))
    return tuple(found)


# --- joining a driver to its file ------------------------------------------------------------


def combine(data: bytes, driver: str, lang: Language) -> bytes:
    """The file with the driver after it: the file's lines keep their numbers, the driver starts
    on the line after its last (`first_line`; see the module docstring for edits and hoisting)."""
    facts = lang.runtime.driver
    text = data.decode("utf-8", "surrogateescape")
    lines = text.count("\n")
    for pattern, repl in facts.get("file_edits", ()):
        edited = re.sub(pattern, repl, text, count=1, flags=re.M)
        text = edited if edited.count("\n") == lines else text
    for pattern, repl in facts.get("driver_edits", ()):
        driver = re.sub(pattern, repl, driver, flags=re.M)
    if facts.get("own_imports"):
        driver = _drop_own_imports(text, driver, lang, facts)
    if facts.get("hoist"):
        text, driver = _hoist(text, driver, lang, facts)
    text = text if text.endswith("\n") or not text else text + "\n"
    return (text + driver.strip("\n") + "\n").encode("utf-8", "surrogateescape")


def first_line(data: bytes) -> int:
    """The line a driver starts on, joined to `data` (edits keep the file's line count)."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0) + 1


def _drop_own_imports(text: str, driver: str, lang: Language, facts: dict) -> str:
    data = text.encode("utf-8", "surrogateescape")
    root = treesitter.parse(lang.grammar, data).root_node
    defined = {f.name for f in _functions(lang, facts.get("functions"), root, data)}
    if facts.get("defines"):
        defined |= {n.text.decode("utf-8", "surrogateescape")
                    for kind, n in treesitter.captures(lang.grammar, facts["defines"], root) if kind == "name"}
    raw = driver.encode("utf-8", "surrogateescape")
    caps = treesitter.captures(lang.grammar, facts["own_imports"], treesitter.parse(lang.grammar, raw).root_node)
    names = [n for kind, n in caps if kind == "name"]
    drop = set()
    for a, b in {_span(n) for kind, n in caps if kind == "import"}:
        bound = [n.text.decode("utf-8", "surrogateescape") for n in names if a <= n.start_byte < b]
        if bound and defined.issuperset(bound):
            drop.add((a, b))
    for a, b in sorted(drop, reverse=True):
        raw = raw[:a] + raw[b:]
    return raw.decode("utf-8", "surrogateescape")


def _hoist(text: str, driver: str, lang: Language, facts: dict) -> tuple[str, str]:
    def items(code: str) -> tuple[list[str], list[tuple[int, int]]]:
        raw = code.encode("utf-8", "surrogateescape")
        caps = treesitter.captures(lang.grammar, facts["hoist"], treesitter.parse(lang.grammar, raw).root_node)
        spans = [_span(n) for kind, n in caps if kind == "hoist"]
        fmt = facts.get("hoist_format", " {}")
        got = [fmt.format(" ".join(n.text.decode("utf-8", "surrogateescape").split())) for kind, n in caps
               if kind == "item"]
        if not any(kind == "item" for kind, _ in caps):
            got = [fmt.format(" ".join(raw[a:b].decode("utf-8", "surrogateescape").split())) for a, b in spans]
        return got, sorted(set(spans))

    moved, spans = items(driver)
    if not spans:
        return text, driver
    have = set(items(text)[0])
    raw = driver.encode("utf-8", "surrogateescape")
    for a, b in reversed(spans):
        raw = raw[:a] + raw[b:]
    driver = raw.decode("utf-8", "surrogateescape")
    line = "".join(dict.fromkeys(m for m in moved if m not in have))
    if not line:
        return text, driver
    data = text.encode("utf-8", "surrogateescape")
    anchors = treesitter.captures(lang.grammar, facts["anchor"], treesitter.parse(lang.grammar, data).root_node) \
        if facts.get("anchor") else []
    at = next((n.end_byte for kind, n in anchors if kind == "anchor"), None)
    at = 0 if at is None else at
    data = data[:at] + line.encode("utf-8", "surrogateescape") + data[at:]
    return data.decode("utf-8", "surrogateescape"), driver


def covered(trace: list[dict], functions: tuple[Function, ...]) -> list[Function]:
    """The functions whose bodies ran: a line event inside one (the innermost, for nested
    ones) in a frame of that function's name (`f`, `A.f`, `S::f`)."""
    hit = set()
    for e in trace:
        if e.get("kind") != "line" or not isinstance(e.get("line"), int):
            continue
        inside = [f for f in functions if f.start <= e["line"] <= f.end]
        if not inside:
            continue
        f = max(inside, key=lambda f: (f.start, -f.end))
        func = str(e.get("func") or "")
        if func == f.name or re.search(r"[^\w$]" + re.escape(f.name) + r"\Z", func):
            hit.add(f)
    return [f for f in functions if f in hit]


# --- asking for a driver ---------------------------------------------------------------------


class Drivers:
    """A generator that writes drivers, with its sampling parameters and the prompt."""

    def __init__(self, generator: Any, params: GenerationParams | None = None, name: str | None = None,
                 attempts: int = 2):
        if attempts < 1:
            raise ValueError("a driver needs at least one attempt")
        self.generator = generator
        self.params = params or GenerationParams()
        self.name = name or getattr(generator, "name", "?")
        self.attempts = attempts
        self.template = Template((PROMPTS / "driver.txt").read_text(encoding="utf-8"))
        self.retry = Template((PROMPTS / "driver_retry.txt").read_text(encoding="utf-8"))

    def prompt(self, data: bytes, lang: Language, found: Shape) -> str:
        listed = "\n".join(f"- {f.signature}" for f in found.functions) or "- (none found)"
        return self.template.substitute(language=lang.name, fence=lang.id, hint=lang.runtime.driver.get("hint", ""),
                                        functions=listed, code=data.decode("utf-8", "replace").rstrip("\n"))

    def retry_prompt(self, first: str, lang: Language, driver: str, reason: str) -> str:
        """The first prompt, the rejected driver and why: the runtime's own error to correct."""
        return self.retry.substitute(first=first, fence=lang.id, driver=driver.rstrip("\n"), reason=reason)

    def write(self, prompt: str) -> tuple[str | None, dict]:
        """(the driver's code or None, what the record says about it)."""
        info = {"generator": self.name, "model": getattr(self.generator, "model", None),
                "prompt_version": PROMPT_VERSION}
        try:
            [got] = self.generator.generate([Request.user("driver", prompt)], self.params)
        except (GeneratorError, ValueError) as e:
            return None, {**info, "reason": f"the generator failed: {e}"}
        info["model"] = getattr(self.generator, "model", None)
        if got.error is not None:
            return None, {**info, "reason": f"the generator failed: {got.error}"}
        code = first_code(got.text)
        if code is None or not code.strip():
            return None, {**info, "reason": "the answer has no code block", "answer": truncate(got.text, STDERR_TAIL)}
        return code, info

    def close(self) -> None:
        close = getattr(self.generator, "close", None)
        if close is not None:
            close()


def trace_input(source: str, data: bytes | None, *, language: str | None = None, backend: Backend,
                overrides: dict | None = None, error: str | None = None, drivers: Drivers | None = None) -> list[dict]:
    """A file's trace as `tracing.trace_input` gives it, except for a file with no entry point:
    traced with a verified driver when `drivers` is given, else a `no_entry_point` record."""
    try:
        if error:
            raise InputError(error)
        base = resolve(overrides)
        data = read_source(Path(source), base) if data is None else data
        if len(data) > base.max_source_bytes:
            raise InputError("too large")
        lang = detect(Path(source), data, language)
    except (InputError, UnknownLanguage):   # trace_input writes the record of that
        return list(tracing.trace_input(source, data, language=language, backend=backend, overrides=overrides,
                                error=error))
    found = shape(data, lang)
    if found is None or found.entry or not found.functions:   # nothing a driver could call
        return list(tracing.trace_input(source, data, language=lang.id, backend=backend, overrides=overrides))
    limits = resolve(lang.runtime.limits, overrides)
    head = header(language=lang.id, source=source, sha256=sha256(data),
                  instrumenter={"id": lang.id, "version": lang.version}, limits=limits.as_dict(), tool=TOOL,
                  backend=backend.name, sandbox=getattr(backend, "sandbox", None), **code_fields(data))
    total = len(found.functions)
    if drivers is None:
        plural = "" if total == 1 else "s"
        return [head, footer(status="no_entry_point", functions=total,
                             reason=f"no entry point: it defines {total} function{plural} and runs none of them "
                                    "(--driver-generator writes a driver that calls them)")]
    first = prompt = drivers.prompt(data, lang, found)
    rejected: list[str] = []   # why each earlier try was not kept
    for _ in range(drivers.attempts):
        code, info = drivers.write(prompt)
        info.update(functions=total, file_sha256=head["sha256"])
        ran = None if code is None else _verify(data, code, lang, found, info, source, backend, limits)
        info.update(attempts=len(rejected) + 1, earlier=list(rejected))
        if ran is not None:
            ran[-1]["driver"] = {"status": "verified", **info}
            return ran
        if code is None:   # nothing to correct: the generator failed or wrote no code
            break
        rejected.append(info["reason"])
        prompt = drivers.retry_prompt(first, lang, code, info["reason"])
    return [head, _rejected(info, total)]


def _verify(data: bytes, code: str, lang: Language, found: Shape, info: dict, source: str, backend: Backend,
            limits) -> list[dict] | None:
    """The trace of the file with `code` as its driver if it runs ok and reaches one of the
    file's functions, else None with the reason in `info`."""
    total = len(found.functions)
    info.update(source=code, first_line=first_line(data))
    ran = list(trace_source(combine(data, code, lang), lang, source=source, backend=backend, limits=limits))
    foot = ran[-1]
    reached = covered(ran, found.functions)
    info.update(covered=len(reached), coverage=round(len(reached) / total, 4) if total else 0.0,
                covered_functions=[f.name for f in reached],
                run={"status": foot["status"], "reason": foot.get("reason")})
    if foot["status"] != "ok":
        said = [x.strip() for x in (foot.get("stderr") or "").splitlines() if x.strip()]
        # the runtime's own words: its last error line (Node.js ends with its version), else its last line
        last = next((x for x in reversed(said) if "error" in x.lower()), said[-1] if said else None)
        why = "; ".join(dict.fromkeys(x for x in (foot.get("reason"), last) if x))
        info["reason"] = f"it did not run to its end: {foot['status']}" + (f" ({truncate(why, 300)})" if why else "")
        if foot.get("stderr"):
            info["run"]["stderr"] = truncate(foot["stderr"][-STDERR_TAIL:], STDERR_TAIL)
        return None
    if not reached:
        info["reason"] = f"it ran but reached none of the file's {total} functions"
        return None
    info.pop("reason", None)
    return ran


def _rejected(info: dict, total: int) -> dict:
    return footer(status="no_entry_point", functions=total, driver={"status": "rejected", **info},
                  reason=f"no entry point, and the driver was rejected: {info['reason']}")


# --- one Drivers per worker process ----------------------------------------------------------


@functools.cache
def shared(generator: str, options: str = "{}", params: str = "{}", attempts: int = 2, cache: bool = True,
           cache_dir: str | None = None) -> Drivers:
    """This process's Drivers for these settings (JSON strings), made once and closed at exit
    (a llama.cpp server, an engine): batch workers trace many files with one."""
    from .generators.cache import with_cache

    factory = plugins.generators()[generator]
    gen = with_cache(factory(**json.loads(options)), cache_dir, enabled=cache)
    p = json.loads(params)
    made = Drivers(gen, GenerationParams(**{k: tuple(v) if k == "stop" else v for k, v in p.items()}), generator,
                   attempts)
    multiprocessing.util.Finalize(None, made.close, exitpriority=0)
    return made
