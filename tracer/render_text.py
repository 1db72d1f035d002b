"""The text form of a trace ("trace-text", version 1): the one rendering that TraceEval
references and CodeTrace responses share. Specified in docs/trace-text.md.

One step per line, in program order::

    L7 pairs=[(12, 9), (100, 75), (17, 5)]      a line event: the line about to run, and the
    L1 call gcd(a=12, b=9)                       variables that changed since the frame's last event
    L4 return 3
    L5 exception ZeroDivisionError: division by zero
    out "gcd(12, 9) = 3\\n"                       stdout (err: stderr), JSON-quoted, chunks merged
    … 12 more steps                              explicit truncation, never a silent cut

The form is deterministic (a function of the records and the options only) and the same for
every language; values stay in the language's own syntax, as the tracer wrote them.
`parse_steps` reads the form back (for scoring) and accepts any text: lines it cannot read
become opaque steps, so identical texts always give identical steps.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .records import TRUNCATION_MARKER

VERSION = 1

#: Short description of the form, for prompts that ask a model to write it.
FORMAT_HELP = """\
Write the execution trace one step per line, in the order the program runs:
- `L<n> name=value, name=value`: line <n> is about to run; list the variables whose values changed \
since the previous step in the same function call (all visible variables at a call's first line), \
or nothing after `L<n>` when none changed.
- `L<n> call f(a=1, b=2)`: a call of f, defined at line <n>, with its arguments.
- `L<n> return value`: the function returns value from line <n> (`L<n> return` when it returns nothing).
- `L<n> exception Type: message`: an exception raised or passing through line <n>.
- `out "text"` / `err "text"`: text written to stdout / stderr, as a JSON string.
Values are written in the program's language syntax (Python repr, JavaScript inspect, C by type)."""

_MORE = re.compile(rf"^{re.escape(TRUNCATION_MARKER)} (\d+) more steps?$")
_LINE = re.compile(r"^L(\d+)(?: (.*))?$")
_END = re.compile(r"^end [a-z_]+( exit -?\d+)?$")
_CUT = f"{TRUNCATION_MARKER} trace cut"
_CALL = re.compile(r"^([^(]*)\((.*)\)$")
_ITEM_START = re.compile(r"[A-Za-z_$][\w$.\[\]]*=")
_STREAMS = {"stdout": "out", "stderr": "err"}
TOP_LEVEL = "<module>"


@dataclass(frozen=True)
class TextOptions:
    """Limits on the rendering; None means no limit. Cuts are always marked."""

    max_steps: int | None = None
    max_value: int | None = None
    max_output: int | None = None


def _value(text: object, limit: int | None) -> str:
    s = "None" if text is None else str(text)
    s = s.replace("\r\n", "\n").replace("\n", "\\n").replace("\r", "\\r")
    if limit is not None and len(s) > limit:
        s = s[: max(limit - len(TRUNCATION_MARKER), 0)] + TRUNCATION_MARKER
    return s


def _assignments(values: dict, limit: int | None) -> str:
    return ", ".join(f"{name}={_value(v, limit)}" for name, v in values.items())


def steps(records: Iterable[dict], options: TextOptions = TextOptions()) -> list[str]:
    """The steps of a trace as text lines, before truncation (see `render`)."""
    out: list[str] = []
    pending: tuple[str, str] | None = None  # (stream, text): consecutive output chunks merge

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            stream, text = pending
            if options.max_output is not None and len(text) > options.max_output:
                text = text[: max(options.max_output - len(TRUNCATION_MARKER), 0)] + TRUNCATION_MARKER
            out.append(f"{_STREAMS.get(stream, stream)} {json.dumps(text, ensure_ascii=False)}")
            pending = None

    mv = options.max_value
    for r in records:
        kind = r.get("kind")
        if kind == "output":
            stream, text = r.get("stream", "stdout"), r.get("text", "")
            if pending is not None and pending[0] == stream:
                pending = (stream, pending[1] + text)
            else:
                flush()
                pending = (stream, text)
            continue
        if kind not in ("line", "call", "return", "exception"):
            continue
        if kind in ("call", "return") and r.get("func") == TOP_LEVEL:
            continue  # entering and leaving top-level code is not a step (some tracers report it)
        flush()
        loc = f"L{r.get('line', 0)}"
        if kind == "line":
            assigned = _assignments(r.get("vars") or {}, mv)
            out.append(f"{loc} {assigned}" if assigned else loc)
        elif kind == "call":
            out.append(f"{loc} call {r.get('func', '?')}({_assignments(r.get('args') or {}, mv)})")
        elif kind == "return":
            value = r.get("value")
            out.append(f"{loc} return" if value is None else f"{loc} return {_value(value, mv)}")
        else:
            message = _value(r.get("message") or "", mv)
            out.append(f"{loc} exception {r.get('type', '?')}: {message}" if message
                       else f"{loc} exception {r.get('type', '?')}")
    flush()
    return out


def render(records: Iterable[dict], options: TextOptions = TextOptions()) -> str:
    """The trace-text of one trace (header and footer included or not: only events render).

    Past `max_steps` steps the text ends with `… N more steps`. A trace that the tracer itself
    cut (footer `truncated`) ends with `… trace cut by the tracer (REASON)`, and one whose
    program did not end normally ends with `end STATUS` (with `exit N` when known).
    """
    records = list(records)
    lines = steps(records, options)
    if options.max_steps is not None and len(lines) > options.max_steps:
        extra = len(lines) - options.max_steps
        lines = lines[: options.max_steps] + [f"{TRUNCATION_MARKER} {extra} more step{'s' if extra != 1 else ''}"]
    foot = next((r for r in reversed(records) if r.get("kind") == "footer"), None)
    if foot is not None:
        if foot.get("truncated"):
            lines.append(f"{TRUNCATION_MARKER} trace cut by the tracer ({foot.get('truncation') or 'limit'})")
        status = foot.get("status")
        if status and status != "ok":
            code = foot.get("exit_code")
            lines.append(f"end {status}" + (f" exit {code}" if code is not None else ""))
    return "\n".join(lines)


def stdout_text(records: Iterable[dict]) -> str:
    """Everything the program wrote to stdout, in order."""
    return "".join(r.get("text", "") for r in records if r.get("kind") == "output" and r.get("stream") == "stdout")


# --- the program ---------------------------------------------------------------------------

class SourceUnavailable(ValueError):
    """The program text of a trace cannot be had (the reason is the message)."""


def program_text(head: dict, *, base: str | Path | None = None) -> str:
    """The program a trace ran, checked against the header's sha256.

    Taken from the header's `code` (the tracer writes it, so a dump is self-contained), else
    read from the header's `source` path (relative paths from `base`, then the working
    directory). A text whose sha256 differs from the header's is refused, not guessed.
    """
    want = head.get("sha256") or ""
    if not want:
        raise SourceUnavailable("the header has no sha256")
    code = head.get("code")
    if isinstance(code, str):
        if hashlib.sha256(code.encode("utf-8")).hexdigest() == want:
            return code
        raise SourceUnavailable("the header's code does not match its sha256")
    source = head.get("source")
    if not source:
        raise SourceUnavailable("the header has neither code nor a source path")
    candidates = [Path(source)]
    if base is not None and not Path(source).is_absolute():
        candidates.insert(0, Path(base) / source)
    for path in candidates:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() != want:
            raise SourceUnavailable(f"{path} has changed since it was traced (sha256 differs)")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceUnavailable(f"{path} is not UTF-8") from None
    raise SourceUnavailable(f"no program text: the header has no code and {source} cannot be read")


def language_name(language: str) -> str:
    """The display name of a language id (`javascript` -> `JavaScript`), the id if unknown."""
    from . import plugins

    try:
        return plugins.languages().get(language).name
    except Exception:  # an unknown id, or no registry: the id is a fine name
        return language


def numbered(code: str) -> str:
    """The program with right-aligned line numbers, as prompts show it (`  7 | x = 1`)."""
    lines = code.splitlines() or [""]
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}".rstrip() for i, line in enumerate(lines, 1))


# --- reading it back -------------------------------------------------------------------------

def normalize(text: str) -> str:
    """The comparison form of a text: the body of its first fenced code block if it has one,
    line endings as \\n, trailing spaces cut, blank lines dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fence = re.search(r"^```[^\n]*\n(.*?)(?:^```|\Z)", text, flags=re.S | re.M)
    if fence:
        text = fence.group(1)
    return "\n".join(line.rstrip() for line in text.split("\n") if line.strip())


def split_assignments(text: str) -> list[tuple[str, str]]:
    """`a=1, b=[1, 2]` -> [("a", "1"), ("b", "[1, 2]")].

    Splits at `, ` followed by `name=` outside brackets and quotes; a value whose brackets do
    not balance (e.g. cut with `…`) runs on to the next `, name=` at any depth.
    """
    if not text:
        return []
    starts = [0]
    depth, quote, i, n = 0, "", 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and text.startswith(", ", i) and depth <= 0 and _ITEM_START.match(text, i + 2):
            starts.append(i + 2)
            depth = 0
        i += 1
    if depth != 0 or quote:  # unbalanced: fall back to every `, name=`
        starts = [0] + [m.start() + 2 for m in re.finditer(r", (?=[A-Za-z_$][\w$.\[\]]*=)", text)]
    items = []
    for a, b in zip(starts, starts[1:] + [n + 2], strict=True):
        part = text[a:b - 2]
        name, eq, value = part.partition("=")
        items.append((name.strip(), value) if eq else ("", part))
    return items


@lru_cache(maxsize=1 << 16)
def step_key(line: str) -> tuple:
    """A canonical, hashable form of one step: variable order does not matter."""
    line = " ".join(line.split())
    m = _LINE.match(line)
    if not m:
        return ("text", line)
    loc, rest = int(m.group(1)), m.group(2) or ""
    for kind in ("call", "return", "exception"):
        if rest == kind or rest.startswith(kind + " "):
            payload = rest[len(kind):].strip()
            if kind == "call":
                call = _CALL.match(payload)
                if call:
                    return ("call", loc, call.group(1), frozenset(split_assignments(call.group(2))))
            return (kind, loc, payload)
    return ("line", loc, frozenset(split_assignments(rest)))


def parse_steps(text: str) -> list[tuple]:
    """The steps of a trace-text (normalized first), each as a `step_key`; truncation and
    end lines are not steps."""
    keys = []
    for line in normalize(text).split("\n"):
        stripped = line.strip()
        if not stripped or _MORE.match(stripped) or stripped.startswith(_CUT) or _END.match(stripped):
            continue
        keys.append(step_key(line))
    return keys
