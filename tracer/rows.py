"""Dataset rows: their columns, how strategies make them, how `trace gen` checks and writes them.

Every row has the released dataset's columns, `blob_id`, `language`, `corpus`, `text`
(`User:\\n<prompt>\\n\\nAssistant:\\n<response>`, with `<think>…</think>` before a response the
model reasoned for), `len_text`, `has_reasoning`, then provenance: `source_sha256`, `trace_id`,
`source_id`, `strategy`, `generator`, `model`, `prompt_version`, and `status` (`ok` or why not),
`reason` and `raw_output` (what the model said, kept when it could not be used). A strategy may
add columns of its own. A failure is a row like any other, with empty text.

Output is JSON lines or Parquet, both loadable by `datasets.load_dataset("json" | "parquet")`.
Parquet needs one schema: it is the union of every row's columns, each column's type unified
over all rows (a column missing from a row is null there), so no column is dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .contracts import Input

RELEASED = ("blob_id", "language", "corpus", "text", "len_text", "has_reasoning")
PROVENANCE = ("source_sha256", "trace_id", "source_id", "strategy", "generator", "model", "prompt_version")
OUTCOME = ("status", "reason", "raw_output")
COLUMNS = (*RELEASED, *PROVENANCE, *OUTCOME)
OK = "ok"


def turn_text(prompt: str, response: str) -> str:
    return f"User:\n{prompt}\n\nAssistant:\n{response}"


def dialogue_text(turns: Sequence[tuple[str, str]]) -> str:
    """Several (user, assistant) turns in the released form, one after the other."""
    return "\n\n".join(turn_text(u, a) for u, a in turns)


def git_blob_id(data: bytes) -> str:
    """The git blob id of a file's bytes: what The Stack's `blob_id` is, for inputs that have none."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _base(inp: Input, strategy: Any, generator: Any) -> dict[str, Any]:
    prov = inp.provenance or {}
    blob = prov.get("blob_id") or (git_blob_id(inp.code.encode("utf-8", "surrogatepass")) if inp.code is not None
                                   else None)
    return {"blob_id": blob, "language": inp.language, "corpus": prov.get("corpus") or inp.origin,
            "source_sha256": inp.sha256, "trace_id": inp.id if inp.kind == "trace" else None,
            "source_id": prov.get("source_id") or inp.path or inp.id,
            "strategy": getattr(strategy, "name", strategy),
            "generator": getattr(generator, "name", None), "model": getattr(generator, "model", None),
            "prompt_version": getattr(strategy, "prompt_version", None)}


def row(inp: Input, strategy: Any, generator: Any, text: str, *, has_reasoning: bool = False,
        raw_output: str | None = None, **extra: Any) -> dict[str, Any]:
    """A good row for `inp`: `text` in the released form, provenance from the input, the strategy
    (its name and prompt_version) and the generator (its name and model; None when unused)."""
    return {**_base(inp, strategy, generator), "text": text, "len_text": len(text), "has_reasoning": has_reasoning,
            "status": OK, "reason": None, "raw_output": raw_output, **extra}


def failure(inp: Input, strategy: Any, generator: Any, status: str, reason: str, *,
            raw_output: str | None = None, **extra: Any) -> dict[str, Any]:
    """A failure row: no text, the status and reason, and the raw model output when there was one."""
    if status == OK:
        raise ValueError("a failure's status cannot be ok")
    return {**_base(inp, strategy, generator), "text": "", "len_text": 0, "has_reasoning": False,
            "status": status, "reason": reason, "raw_output": raw_output, **extra}


def problems(r: Any) -> list[str]:
    """What is wrong with a row (empty when nothing): the checks `trace gen` and the test fixture share."""
    if not isinstance(r, dict):
        return [f"a row is a dict, not {type(r).__name__}"]
    out = [f"no column {c}" for c in COLUMNS if c not in r]
    if out:
        return out
    if not isinstance(r["text"], str):
        out.append("text is not a string")
    elif r["len_text"] != len(r["text"]):
        out.append(f"len_text {r['len_text']} != len(text) {len(r['text'])}")
    if not isinstance(r["has_reasoning"], bool):
        out.append("has_reasoning is not a bool")
    if r["status"] == OK:
        if not isinstance(r["text"], str) or not r["text"].startswith("User:\n") or "\n\nAssistant:\n" not in r["text"]:
            out.append("text is not in the form User:\\n<prompt>\\n\\nAssistant:\\n<response>")
        elif r["has_reasoning"] != ("\n\nAssistant:\n<think>" in r["text"]):
            out.append("has_reasoning does not match a <think> block after Assistant:")
        if not r["strategy"]:
            out.append("no strategy")
    elif not isinstance(r["status"], str) or not r["status"] or not r["reason"]:
        out.append("a failure row needs a status and a reason")
    try:
        json.dumps(r, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        out.append(f"not JSON-able: {e}")
    return out


# --- writing -----------------------------------------------------------------------------------


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """Rows the pipeline wrote itself (trusted: one JSON object a line)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_jsonl(path: str | Path, what: str) -> list[dict]:
    """A user's JSON-lines file (tasks, predictions): ValueError naming `path:line` at the first bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {what} {path}: {getattr(e, 'strerror', None) or e}") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except (ValueError, RecursionError):
            r = None
        if not isinstance(r, dict):
            raise ValueError(f"{path}:{n}: not a JSON object")
        out.append(r)
    return out


def write_jsonl(rows: Iterable[dict], path: str | Path) -> int:
    """Write rows atomically (a temporary name, renamed when complete); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def write_parquet(chunks: Iterable[Sequence[dict]] | None, path: str | Path, *, reread=None) -> int:
    """Write rows as Parquet with one schema unified over all of them. `reread()` gives the same
    chunks again (the first pass finds the schema, the second writes), or `chunks` is a list."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(chunk: Sequence[dict], names: Iterable[str], schema=None):
        return pa.Table.from_pydict({k: [r.get(k) for r in chunk] for k in names}, schema=schema)

    schemas, names = [], {}
    for chunk in (chunks if reread is None else reread()):
        if chunk:
            here = dict.fromkeys(k for r in chunk for k in r)
            names.update(here)
            schemas.append(table(chunk, here).schema)
    if not schemas:
        return 0
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    schema = pa.schema([unified.field(k) for k in names])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for chunk in (chunks if reread is None else reread()):
                if chunk:
                    writer.write_table(table(chunk, names, schema))
                    n += len(chunk)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def write_rows(rows: Iterable[dict], path: str | Path, fmt: str, batch: int = 5000) -> int:
    """Rows (an iterable read once) to JSON lines or Parquet at `path`, atomically; the count."""
    if fmt == "jsonl":
        return write_jsonl(rows, path)
    chunks: list[list[dict]] = [[]]
    for r in rows:
        if len(chunks[-1]) >= batch:
            chunks.append([])
        chunks[-1].append(r)
    return write_parquet(chunks, path)


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a JSON-lines or Parquet file (by its suffix): what `write_rows` wrote."""
    if Path(path).suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    return list(read_jsonl(path))


def summary(rows: Iterable[dict]) -> dict[str, Any]:
    """Counts of rows by strategy and status, failures by reason (first line), and per language its
    rows, good rows, statuses and, for strategies that check their answers, how the good rows'
    checks went (`verified` true, false, or null for a row nothing could check; also over all)."""
    by: dict[str, Counter] = {"strategy": Counter(), "status": Counter()}
    languages: dict[str, dict[str, Counter]] = {}
    reasons: Counter = Counter()
    n = 0
    for r in rows:
        n += 1
        for key, counter in by.items():
            counter[str(r.get(key))] += 1
        lang = languages.setdefault(str(r.get("language")), {"status": Counter(), "verified": Counter()})
        lang["status"][str(r.get("status"))] += 1
        if "verified" in r and r.get("status") == OK:
            lang["verified"][str(r["verified"]).lower()] += 1
        if r.get("status") != OK:
            reasons[str(r.get("reason") or "").split("\n", 1)[0][:200]] += 1
    return {"rows": n, **{f"by_{k}": dict(sorted(c.items())) for k, c in by.items()},
            "by_language": {k: {"rows": sum(v["status"].values()), "ok": v["status"][OK],
                              "by_status": dict(sorted(v["status"].items())),
                              **({"verified": dict(sorted(v["verified"].items()))} if v["verified"] else {})}
                          for k, v in sorted(languages.items())},
            **({"verified": dict(sorted(sum((v["verified"] for v in languages.values()), Counter()).items()))}
               if any(v["verified"] for v in languages.values()) else {}),
            "failures_by_reason": dict(reasons.most_common())}
