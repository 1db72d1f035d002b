"""The instrumentation engine.

A language's rewriter (instrumenters/<id>/rewrite.py, function `rewrite(rw: Rewrite)`) looks at
the syntax tree and asks for byte-range edits and probes; the engine checks that the edits do
not overlap, applies them, re-parses the result and rejects it if it no longer parses. The
probe map ties every probe id the prelude will report to its original line and function.

Sources are bytes throughout, so the rewritten program keeps every byte it had: a rewriter whose
module sets `ANY_BYTES = True` (its toolchain runs any bytes, as bash does) gets non-UTF-8 sources
too, and sees their text with undecodable bytes as surrogate escapes (lossless); others get UTF-8
only. A UTF-8 byte-order mark is set aside before parsing and put back in front of the result.
A rewriter whose module sets `PRELUDE_DIR` gets its prelude files in that folder of the work
folder (a hidden one: a program that lists its folder sees what it would untraced).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import treesitter
from .languages import Language


@dataclass(frozen=True)
class Probe:
    id: int
    kind: str
    line: int
    func: str


#: The UTF-8 byte-order mark: toolchains that accept it want it first, before any probe.
BOM = b"\xef\xbb\xbf"


@dataclass
class Instrumented:
    data: bytes              # the program to run, byte for byte
    probes: list[Probe]
    files: dict[str, bytes]
    source_name: str
    notes: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        """The program as text, for people (bytes that are not UTF-8 shown as U+FFFD)."""
        return self.data.decode("utf-8", "replace")

    def probe_map(self) -> dict[int, Probe]:
        return {p.id: p for p in self.probes}


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Failure:
    error: str


class SkipProgram(Exception):
    """Raised by a rewriter for an input it will not trace (not a bug of ours)."""


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str
    order: tuple[int, int]


class Rewrite:
    """What a language rewriter sees and may do."""

    def __init__(self, lang: Language, source: bytes, tree: treesitter.Tree, options: dict):
        self.lang = lang
        self.source = source
        self.tree = tree
        self.root = tree.root_node
        self.options = options
        self.probes: list[Probe] = []
        self.notes: list[str] = []
        self.source_name = lang.runtime.source
        self._edits: list[_Edit] = []
        self._stop: int | None = None
        self._drops: set[tuple[int, str | None]] = set(options.get("drops", ()))

    def keep(self, line: int, name: str | None = None) -> bool:
        """Whether a probe on original `line` may read variable `name` (None: may the probe exist).

        The repair loop (tracing.py) drops what a compiler rejected: (line, name) narrows a
        probe, (line, None) removes the probes of that line. Rewriters of compiled languages
        ask before every variable read they emit.
        """
        if (line, None) in self._drops:
            return False
        return name is None or (line, name) not in self._drops

    def text(self, node: treesitter.Node) -> str:
        return self.source[node.start_byte:node.end_byte].decode("utf-8", "surrogateescape")

    def captures(self, query_name: str, node: treesitter.Node | None = None) -> list[tuple[str, treesitter.Node]]:
        return treesitter.captures(self.lang.grammar, self.lang.query(query_name), node or self.root)

    def probe(self, kind: str, line: int, func: str) -> int:
        """Register a probe; `line` is 1-based in the original source."""
        pid = len(self.probes)
        self.probes.append(Probe(pid, kind, line, func))
        return pid

    def insert(self, at: int, text: str, priority: int = 0) -> None:
        """Insert at byte `at`; at one position, lower priority first, then in call order."""
        self._edits.append(_Edit(at, at, text, (priority, len(self._edits))))

    def replace(self, start: int, end: int, text: str) -> None:
        self._edits.append(_Edit(start, end, text, (0, len(self._edits))))

    def stop_at(self, at: int, why: str) -> None:
        """Change nothing after byte `at` (what follows cannot be trusted: the grammar does not
        understand it, the language's own parser decides); the footer's notes say from where."""
        if self._stop is None or at < self._stop:
            self._stop = at
            self.notes = [n for n in self.notes if not n.startswith("not traced from line")]
            line = self.source.count(b"\n", 0, at) + 1
            self.notes.append(f"not traced from line {line} on: {why}")

    def edits(self) -> list[_Edit]:
        """The edits apply makes, in its order (a rewriter that maps the output back to the
        source, such as JavaScript's Function.prototype.toString, reads them)."""
        return sorted((e for e in self._edits if self._stop is None or e.end <= self._stop),
                      key=lambda e: (e.start, e.end > e.start, e.order))

    def apply(self) -> bytes:
        out: list[bytes] = []
        pos = 0
        for e in self.edits():
            if e.start < pos:
                raise ValueError(f"overlapping edits at byte {e.start}")
            out.append(self.source[pos:e.start])
            out.append(e.text.encode("utf-8", "surrogateescape"))   # text() escapes round-trip
            pos = e.end
        out.append(self.source[pos:])
        return b"".join(out)


def instrument(source: str | bytes, lang: Language, options: dict | None = None) -> Instrumented | Skip | Failure:
    """Rewrite `source` so that it reports its own execution; never raises on bad input."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    bom = BOM if data.startswith(BOM) else b""
    data = data[len(bom):]
    if not getattr(lang.rewriter, "ANY_BYTES", False):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            return Skip(f"not UTF-8 text (byte {e.start + len(bom)}); {lang.name} sources must be UTF-8")
    if b"\0" in data:
        return Skip("binary file (contains NUL bytes)")
    if not data.strip():
        return Skip("empty file")
    tree = treesitter.parse(lang.grammar, data)
    error = treesitter.first_error(tree.root_node)
    strict = lang.syntax == "strict"
    if error is not None and strict:
        row, col = error.start_point
        return Skip(f"syntax error at line {row + 1}, column {col + 1}")
    rw = Rewrite(lang, data, tree, dict(options or {}))
    try:
        lang.rewriter.rewrite(rw)
        code = rw.apply()
    except SkipProgram as e:
        return Skip(str(e))
    except Exception as e:  # a rewriter bug must become a record, not a crashed batch
        return Failure(f"{type(e).__name__}: {e}")
    error = treesitter.first_error(treesitter.parse(lang.grammar, code).root_node)
    if error is not None and (strict or not tree.root_node.has_error):
        row, col = error.start_point
        return Failure(f"instrumented code does not parse (line {row + 1}, column {col + 1})")
    folder = getattr(lang.rewriter, "PRELUDE_DIR", "")
    files = {f"{folder}/{name}" if folder else name: blob for name, blob in lang.prelude_files.items()}
    return Instrumented(data=bom + code, probes=rw.probes, files=files,
                        source_name=rw.source_name, notes=rw.notes)
