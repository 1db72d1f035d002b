"""Deduplication and decontamination of generated rows.

Dedup: a row whose text is the same as an earlier row's, up to whitespace, is an exact
duplicate; one whose word 5-gram set has an estimated Jaccard similarity of at least
`threshold` with an earlier row's is a near duplicate. Near duplicates are found with MinHash
(`num_perm` hash functions, numpy) and LSH banding, then each candidate pair's MinHash
similarity is checked against the threshold; the first row of a group is kept.

Decontamination: a row whose seed overlaps a benchmark program is removed. The references are
benchmark task files (TraceEval's `source`, DevEval's code in its `prompt`, and their `sha256`)
or any file or folder of programs. A row's seed is its `raw` column (CodeEnhance) or the first
code block of its first user turn; it overlaps when its `source_sha256` is a reference's, or
its 5-gram Jaccard similarity with a reference program is at least `contamination_threshold`.

The LLM strategies take `--decontaminate REF` too: a seed that overlaps is a `contaminated`
row there, before any model call. Nothing is lost silently: removed rows come back apart,
each with `removed` (why: the row it duplicates, or the reference it overlaps).
`trace dedup ROWS --out OUT [--decontaminate REF ...]` writes the kept rows to OUT and the
removed ones beside it.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PRIME = np.uint64((1 << 61) - 1)
_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
SHINGLE = 5


def shingles(text: str, n: int = SHINGLE) -> set[int]:
    """The crc32s of the text's token n-grams (all of it as one gram when it is shorter)."""
    tokens = _TOKEN.findall(text or "")
    grams = [" ".join(tokens[i:i + n]) for i in range(max(len(tokens) - n + 1, 1))]
    return {zlib.crc32(g.encode("utf-8", "surrogatepass")) for g in grams}


class MinHasher:
    """MinHash signatures with `num_perm` hash functions (a*x + b mod 2^61-1, fixed seed)."""

    def __init__(self, num_perm: int = 128, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 1 << 32, num_perm, dtype=np.uint64)
        self.b = rng.integers(0, 1 << 32, num_perm, dtype=np.uint64)
        self.num_perm = num_perm

    def signature(self, grams: set[int]) -> np.ndarray:
        x = np.fromiter(grams, dtype=np.uint64, count=len(grams)) if grams else np.zeros(1, np.uint64)
        # a, x < 2^32, so a*x fits in 64 bits; the mod keeps the sum under 2^62
        return ((np.outer(x, self.a) % _PRIME + self.b) % _PRIME).min(axis=0)

    @staticmethod
    def similarity(s1: np.ndarray, s2: np.ndarray) -> float:
        return float(np.mean(s1 == s2))


class LSH:
    """Signatures cut into `bands` bands; rows sharing one band are candidates."""

    def __init__(self, num_perm: int, threshold: float):
        self.bands = _bands(num_perm, threshold)
        self.width = num_perm // self.bands
        self.buckets: dict[tuple[int, bytes], list[int]] = {}

    def keys(self, sig: np.ndarray) -> list[tuple[int, bytes]]:
        return [(b, sig[b * self.width:(b + 1) * self.width].tobytes()) for b in range(self.bands)]

    def candidates(self, sig: np.ndarray) -> set[int]:
        return {i for k in self.keys(sig) for i in self.buckets.get(k, ())}

    def add(self, i: int, sig: np.ndarray) -> None:
        for k in self.keys(sig):
            self.buckets.setdefault(k, []).append(i)


def _bands(num_perm: int, threshold: float) -> int:
    """The band count (a divisor of num_perm) whose S-curve midpoint (1/b)^(1/r) is nearest below
    `threshold`, so pairs at the threshold are likely candidates."""
    options = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    below = [b for b in options if (1 / b) ** (b / num_perm) <= threshold] or [options[-1]]
    return min(below, key=lambda b: threshold - (1 / b) ** (b / num_perm))


def _normal(text: str) -> str:
    return " ".join((text or "").split())


@dataclass
class Result:
    kept: list[dict]
    removed: list[dict]


def dedup(rows: Sequence[dict], *, threshold: float = 0.8, num_perm: int = 128, near: bool = True,
          key: str = "text") -> Result:
    """Exact and (with `near`) MinHash near-duplicate rows of `rows[key]` removed, first kept."""
    hasher, lsh = MinHasher(num_perm), LSH(num_perm, threshold)
    seen: dict[str, int] = {}
    sigs: dict[int, np.ndarray] = {}
    kept, removed = [], []
    for i, r in enumerate(rows):
        text = _normal(r.get(key))
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        if digest in seen:
            removed.append({**r, "removed": f"exact duplicate of row {seen[digest]} ({_who(rows[seen[digest]])})"})
            continue
        if near:
            sig = hasher.signature(shingles(text))
            match = max(((hasher.similarity(sig, sigs[j]), j) for j in lsh.candidates(sig)), default=None)
            if match is not None and match[0] >= threshold:
                removed.append({**r, "removed": f"near duplicate of row {match[1]} ({_who(rows[match[1]])}), "
                                                f"MinHash similarity {match[0]:.2f}"})
                continue
            lsh.add(i, sig)
            sigs[i] = sig
        seen[digest] = i
        kept.append(r)
    return Result(kept, removed)


def _who(r: dict) -> str:
    return str(r.get("source_id") or r.get("trace_id") or r.get("blob_id"))


# --- decontamination ---------------------------------------------------------------------------


@dataclass
class Reference:
    name: str            # where it came from: file (and task id)
    code: str
    sha256: str | None = None


def seed_of(r: dict) -> str | None:
    """A row's seed program: its `raw` column, else the first code block of its first user turn."""
    if r.get("raw"):
        return r["raw"]
    user = (r.get("text") or "").split("\n\nAssistant:\n", 1)[0]
    m = _FENCE.search(user)
    return m.group(1) if m else None


def load_references(paths: Iterable[str | Path]) -> list[Reference]:
    """Programs to keep out: a JSON-lines task file (each task's `source`, `code` or the first code
    block of its `prompt`, and its `sha256`), a source file, or a folder of them."""
    refs = []
    for path in map(Path, paths):
        if not path.exists():
            raise ValueError(f"no reference file {path}")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if f.suffix == ".jsonl":
                refs += _tasks(f)
            else:
                data = f.read_bytes()
                refs.append(Reference(str(f), data.decode("utf-8", "replace"), hashlib.sha256(data).hexdigest()))
    return refs


def _tasks(path: Path) -> list[Reference]:
    from .rows import load_jsonl

    out = []
    for t in load_jsonl(path, "benchmark tasks"):
        code = t.get("source") or t.get("code")
        if not code and t.get("prompt"):
            m = _FENCE.search(t["prompt"])
            code = m.group(1) if m else t["prompt"]
        if code or t.get("sha256"):
            out.append(Reference(f"{path}:{t.get('id')}", code or "", t.get("sha256")))
    return out


class Contamination:
    """An index of reference programs: does a seed (its code, its sha256) overlap one of them."""

    def __init__(self, references: Sequence[Reference], threshold: float = 0.5, num_perm: int = 128):
        self.references, self.threshold = list(references), threshold
        self.hasher, self.lsh = MinHasher(num_perm), LSH(num_perm, threshold)
        self.by_sha = {ref.sha256: ref for ref in self.references if ref.sha256}
        self.sigs = [self.hasher.signature(shingles(ref.code)) for ref in self.references]
        for i, ref in enumerate(self.references):
            if ref.code.strip():
                self.lsh.add(i, self.sigs[i])

    @classmethod
    def of(cls, paths: Iterable[str | Path], threshold: float = 0.5) -> Contamination:
        return cls(load_references(paths), threshold)

    def overlap(self, code: str | None, sha256: str | None = None) -> str | None:
        """Why the seed is contaminated (which reference, how), None when it is not."""
        ref = self.by_sha.get(sha256) if sha256 else None
        if ref is not None:
            return f"contaminated: its seed is {ref.name} (same sha256)"
        if code is None:
            return None
        sig = self.hasher.signature(shingles(code))
        match = max(((self.hasher.similarity(sig, self.sigs[j]), j) for j in self.lsh.candidates(sig)), default=None)
        if match is not None and match[0] >= self.threshold:
            name = self.references[match[1]].name
            return f"contaminated: its seed overlaps {name} (MinHash similarity {match[0]:.2f})"
        return None


def decontaminate(rows: Sequence[dict], references: Sequence[Reference], *, threshold: float = 0.5) -> Result:
    """Rows whose seed is a reference program (same sha256) or overlaps one (5-gram MinHash
    similarity >= `threshold`) removed, each saying which."""
    index = Contamination(references, threshold)
    kept, removed = [], []
    for r in rows:
        why = index.overlap(seed_of(r), r.get("source_sha256"))
        if why is None:
            kept.append(r)
        else:
            removed.append({**r, "removed": why})
    return Result(kept, removed)
