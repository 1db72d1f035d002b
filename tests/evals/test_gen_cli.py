"""`trace gen` built from the registry: typed options, shards and resume, outputs, summary."""

from __future__ import annotations

import json

import pytest
from test_cli import _jsonl, trace

from codealchemy.tracer import rows


def test_codetrace_through_the_generic_command(py_dump, tmp_path):
    args = ("gen", "codetrace", py_dump, "--out", "rows.jsonl", "--rows-per-trace", "2", "--shard-size", "2",
            "--statuses", "ok")
    r = trace(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    good = _jsonl(tmp_path / "rows.jsonl")
    assert good and all(rows.problems(x) == [] and x["status"] == "ok" for x in good)
    left = _jsonl(tmp_path / "rows.jsonl.failures.jsonl")   # inputs it could not use: rows with their reason
    assert [(x["status"], x["reason"], x["source_id"]) for x in left] == [("skipped", "status runtime_error",
                                                                            "crash.py")]
    summary = json.loads((tmp_path / "rows.jsonl.summary.json").read_text())
    assert summary["ok"] == len(good) and summary["rows"] == len(good) + len(left)
    assert summary["by_strategy"] == {"codetrace": len(good) + len(left)}
    assert set(summary["by_language"]) == {"python"} and summary["by_status"]["ok"] == len(good)
    # the same command again: every shard is marked, nothing is redone, the same rows come out
    runs = list((tmp_path / ".rows.jsonl.runs").iterdir())
    assert len(runs) == 1
    again = trace(*args, cwd=tmp_path)
    assert again.returncode == 0 and _jsonl(tmp_path / "rows.jsonl") == good
    assert len(list((tmp_path / ".rows.jsonl.runs").iterdir())) == 1
    # other settings: another run directory (named by their digest)
    other = trace("gen", "codetrace", py_dump, "--out", "rows.jsonl", "--seed", "7", cwd=tmp_path)
    assert other.returncode == 0 and len(list((tmp_path / ".rows.jsonl.runs").iterdir())) == 2


def test_an_empty_run_leaves_earlier_rows_alone(py_dump, tmp_path):
    assert trace("gen", "codetrace", py_dump, "--out", "rows.jsonl", cwd=tmp_path).returncode == 0
    before = (tmp_path / "rows.jsonl").read_bytes()
    r = trace("gen", "codetrace", py_dump, "--out", "rows.jsonl", "--statuses", "no_such_status", cwd=tmp_path)
    assert r.returncode == 1 and "no rows" in r.stderr and "kept" in r.stderr
    assert (tmp_path / "rows.jsonl").read_bytes() == before


def test_options_are_typed_and_checked(py_dump, tmp_path):
    r = trace("gen", "codetrace", py_dump, "--out", "r.jsonl", "--rows-per-trace", "many", cwd=tmp_path)
    assert r.returncode == 2 and "--rows-per-trace" in r.stderr and "integer" in r.stderr
    r = trace("gen", "codetrace", py_dump, "--out", "r.jsonl", "--templates", "poem", cwd=tmp_path)
    assert r.returncode == 2 and "unknown template" in r.stderr and r.stderr.strip().count("\n") == 0
    r = trace("gen", "codetrace", py_dump, "--out", "r.jsonl", "--generator", "file", cwd=tmp_path)
    assert r.returncode == 2 and "calls no model" in r.stderr
    r = trace("gen", "codedialogue", py_dump, "--out", "r.jsonl", "--generator", "file", cwd=tmp_path)
    assert r.returncode == 2 and "needs a path" in r.stderr and r.stderr.strip().count("\n") == 0
    r = trace("gen", "codedialogue", py_dump, "--out", "r.jsonl", "--generator", "nope", cwd=tmp_path)
    assert r.returncode == 2 and "unknown generator 'nope'" in r.stderr
    r = trace("gen", "codetrace", "--help", cwd=tmp_path)
    for flag in ("--rows-per-trace", "--templates", "--max-steps", "--statuses", "--no-dedup", "--generator"):
        assert flag in r.stdout
    assert not (tmp_path / "r.jsonl").exists()


def test_parquet_rows_have_one_schema(py_dump, tmp_path):
    import pytest

    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed (codealchemy[parquet])")
    r = trace("gen", "codetrace", py_dump, "--out", "rows.parquet", "--rows-per-trace", "4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = pq.read_table(tmp_path / "rows.parquet").to_pylist()
    assert got and set(rows.COLUMNS) <= set(got[0])
    assert all(rows.problems(x) == [] for x in got)


def test_rows_load_with_datasets(py_dump, tmp_path):
    import pytest

    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is not installed ([test] has it)")
    for name, kind in (("rows.jsonl", "json"), ("rows.parquet", "parquet")):
        r = trace("gen", "codetrace", py_dump, "--out", name, "--rows-per-trace", "4", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        ds = datasets.load_dataset(kind, data_files=str(tmp_path / name), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
        mine = _jsonl(tmp_path / "rows.jsonl")
        assert len(ds) == len(mine) and set(rows.COLUMNS) <= set(ds.column_names)
        assert [x["text"] for x in ds] == [x["text"] for x in mine]
        assert ds[0]["len_text"] == len(ds[0]["text"]) and ds[0]["has_reasoning"] is False


def test_ray_executor_gives_the_same_rows(py_dump, tmp_path):
    pytest.importorskip("ray", reason="Ray comes with the test extra")
    args = ("gen", "codetrace", py_dump, "--rows-per-trace", "2", "--shard-size", "2", "--statuses", "ok")
    local = trace(*args, "--out", "local.jsonl", cwd=tmp_path)
    ray = trace(*args, "--out", "ray.jsonl", "--executor", "ray", "--workers", "2", cwd=tmp_path)
    assert local.returncode == 0 and ray.returncode == 0, ray.stderr
    for name in ("", ".failures.jsonl", ".summary.json"):
        assert (tmp_path / f"ray.jsonl{name}").read_text() == (tmp_path / f"local.jsonl{name}").read_text()
    assert _jsonl(tmp_path / "ray.jsonl") and _jsonl(tmp_path / "ray.jsonl.failures.jsonl")
