"""The strategy/benchmark contract: typed options, prompt versions, rows and their writing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from codealchemy.tracer import rows
from codealchemy.tracer.contracts import (
    Benchmark,
    Input,
    Strategy,
    make_options,
    option,
    option_specs,
    options_of,
    prompt_version,
)


@dataclass(frozen=True)
class Opts:
    turns: int = option(2, "Turns.")
    temperature: float = option(0.5, "How random.")
    names: tuple[str, ...] | None = option(None, "Comma-separated names.")
    keep: bool = option(True, "Keep it.")
    where: Path | None = option(None, "A folder.")


def test_option_specs_carry_type_default_and_help():
    specs = {s.name: s for s in option_specs(Opts)}
    assert specs["turns"].type is int and specs["turns"].default == 2 and specs["turns"].help == "Turns."
    assert specs["names"].type == (tuple, str) and specs["names"].optional
    assert specs["where"].type is Path and specs["keep"].type is bool and not specs["keep"].optional


def test_make_options_checks_types_and_names():
    o = make_options(Opts, {"turns": "3", "temperature": "0.1", "names": "a,b", "keep": "no", "where": "/tmp"})
    assert o == Opts(turns=3, temperature=0.1, names=("a", "b"), keep=False, where=Path("/tmp"))
    assert make_options(Opts, {"names": ["x"]}).names == ("x",)
    with pytest.raises(ValueError, match="turns: 'many' is not a int"):
        make_options(Opts, {"turns": "many"})
    with pytest.raises(ValueError, match="unknown option.*colour"):
        make_options(Opts, {"colour": "red"})


def test_options_must_be_typed_dataclasses():
    @dataclass
    class Bad:
        things: dict = None

    with pytest.raises(TypeError, match="things"):
        option_specs(Bad)
    with pytest.raises(TypeError):
        option([], "mutable")
    assert option_specs(options_of(object)) == []


def test_prompt_version_changes_with_any_prompt_file(tmp_path):
    (tmp_path / "a.txt").write_text("hello $x")
    v1 = prompt_version(tmp_path, "s")
    assert v1.startswith("s@") and v1 == prompt_version(tmp_path, "s")
    (tmp_path / "b.txt").write_text("more")
    v2 = prompt_version(tmp_path, "s")
    (tmp_path / "a.txt").write_text("hello $y")
    assert len({v1, v2, prompt_version(tmp_path, "s")}) == 3


def test_builtins_implement_the_protocols():
    from codealchemy.tracer import plugins

    for factory in plugins.strategies().values():
        assert isinstance(factory(), Strategy)
    for factory in plugins.benchmarks().values():
        assert isinstance(factory(), Benchmark)


INP = Input(id="src/a.py", kind="source", language="python", code="print(1)\n", sha256="ab" * 32,
            provenance={"source_id": "src/a.py", "corpus": "c.jsonl", "repo": "r"}, path="src/a.py")


class Gen:
    name, model = "openai", "smol"


class Strat:
    name, prompt_version = "demo", "demo@123"


def test_rows_have_the_released_columns_and_provenance():
    text = rows.turn_text("Q?", "<think>\nhm\n</think>\nA.")
    r = rows.row(INP, Strat(), Gen(), text, has_reasoning=True, raw_output="A.", extra_col=1)
    assert rows.problems(r) == []
    assert r["text"] == "User:\nQ?\n\nAssistant:\n<think>\nhm\n</think>\nA." and r["len_text"] == len(text)
    assert r["blob_id"] == rows.git_blob_id(b"print(1)\n")   # what `git hash-object` gives
    assert (r["corpus"], r["source_id"], r["strategy"], r["generator"], r["model"], r["prompt_version"]) == (
        "c.jsonl", "src/a.py", "demo", "openai", "smol", "demo@123")
    assert r["extra_col"] == 1 and r["status"] == "ok"
    with_blob = Input(**{**INP.__dict__, "provenance": {"blob_id": "given"}})
    assert rows.row(with_blob, Strat(), None, text, has_reasoning=True)["blob_id"] == "given"


def test_git_blob_id_is_gits():
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    got = subprocess.run(["git", "hash-object", "--stdin"], input=b"print(1)\n", capture_output=True).stdout
    assert rows.git_blob_id(b"print(1)\n") == got.decode().strip()


def test_row_problems_catch_bad_rows():
    good = rows.row(INP, Strat(), None, rows.turn_text("q", "a"))
    assert rows.problems(good) == []
    assert "no column blob_id" in rows.problems({k: v for k, v in good.items() if k != "blob_id"})
    assert any("len_text" in p for p in rows.problems({**good, "len_text": 3}))
    assert any("form" in p for p in rows.problems({**good, "text": "just text", "len_text": 9}))
    assert any("has_reasoning" in p for p in rows.problems({**good, "has_reasoning": True}))
    fail = rows.failure(INP, Strat(), None, "parse_error", "no answer", raw_output="???")
    assert rows.problems(fail) == [] and fail["raw_output"] == "???" and fail["text"] == ""
    assert rows.problems({**fail, "reason": None})
    assert rows.problems("not a row")
    with pytest.raises(ValueError):
        rows.failure(INP, Strat(), None, "ok", "x")


def test_parquet_schema_is_unified_over_all_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed (codealchemy[parquet])")
    first = [{"a": None, "b": 1}] * 3
    later = [{"a": "text", "b": 2, "c": [1, 2]}]
    n = rows.write_rows(iter(first + later), tmp_path / "r.parquet", "parquet", batch=2)
    assert n == 4
    got = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert got[-1] == {"a": "text", "b": 2, "c": [1, 2]}   # a column first seen late is not dropped
    assert got[0] == {"a": None, "b": 1, "c": None}


def test_summary_counts_by_strategy_language_and_status():
    ok = rows.row(INP, Strat(), None, rows.turn_text("q", "a"))
    bad = rows.failure(INP, Strat(), None, "parse_error", "no answer\nmore")
    s = rows.summary([ok, ok, bad])
    assert s["rows"] == 3 and s["by_status"] == {"ok": 2, "parse_error": 1}
    assert s["by_strategy"] == {"demo": 3}
    assert s["by_language"] == {"python": {"rows": 3, "ok": 2, "by_status": {"ok": 2, "parse_error": 1}}}
    assert s["failures_by_reason"] == {"no answer": 1}
    json.dumps(s)


def test_summary_counts_the_checks_of_good_rows_per_language():
    def checked(verified, lang="python", status="ok"):
        r = rows.row(INP, Strat(), None, rows.turn_text("q", "a"), verified=verified)
        return {**r, "language": lang, "status": status}

    s = rows.summary([checked(True), checked(True), checked(None), checked(False, "c"),
                      checked(False, "c", status="verification_failed"), checked(True, "c")])
    assert s["by_language"]["python"]["verified"] == {"none": 1, "true": 2}
    assert s["verified"] == {"false": 1, "none": 1, "true": 3}   # over all languages
    # a failure row's check is not counted with the good rows'
    assert s["by_language"]["c"] == {"rows": 3, "ok": 2, "by_status": {"ok": 2, "verification_failed": 1},
                                     "verified": {"false": 1, "true": 1}}
