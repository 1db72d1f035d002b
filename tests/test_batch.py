"""`trace batch`: every input accounted for exactly once, across kills, executors and formats."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codealchemy.tracer import batch as batch_mod
from codealchemy.tracer import corpus, records
from codealchemy.tracer.pipeline import shards

TRACE = [sys.executable, "-m", "codealchemy.tracer.cli"]


def make_corpus(root, n_slow=12):
    root.mkdir()
    (root / "ok.py").write_text("total = 0\nfor i in range(3):\n    total += i\nprint(total)\n")
    (root / "broken.py").write_text("def f(:\n")
    (root / "crash.py").write_text("raise SystemExit(3)\n")
    (root / "loop.py").write_text("while True:\n    pass\n")
    (root / "notes.txt").write_text("not a program\n")
    (root / "blob.c").write_bytes(b"\x00\x01\x02")
    (root / ".hidden.py").write_text("print('hidden files are not inputs')\n")
    (root / "main.c").write_text('#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }\n')
    for i in range(n_slow):
        (root / f"slow_{i:02d}.py").write_text(f"import time\ntime.sleep(0.3)\nprint({i})\n")
    return sorted(str(p) for p in root.iterdir() if not p.name.startswith("."))


def batch(*args, **kw):
    return subprocess.run([*TRACE, "batch", *map(str, args), "--timeout", "2"], capture_output=True, text=True,
                          timeout=600, **kw)


def kill_after_shards(n, *args):
    """Start `trace batch ARGS`, SIGKILL its whole process group once n shards are done."""
    dump = Path(args[args.index("--out") + 1])
    proc = subprocess.Popen([*TRACE, "batch", *map(str, args), "--timeout", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(dump.glob("*.index.jsonl"))) < n:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def sources(dump):
    return [e["source"] for e in records.dump_index(dump)]


def test_every_input_once_with_a_reason_for_each_failure(tmp_path):
    inputs = make_corpus(tmp_path / "corpus", n_slow=2)
    done = batch(tmp_path / "corpus", "--out", tmp_path / "dump", "--workers", "2", "--shard-size", "3", "--json")
    assert done.returncode == 0, done.stderr
    index = {e["source"]: e for e in records.dump_index(tmp_path / "dump")}
    assert sorted(sources(tmp_path / "dump")) == inputs
    assert index[str(tmp_path / "corpus" / "notes.txt")]["status"] == "input_error"
    assert index[str(tmp_path / "corpus" / "broken.py")]["status"] == "skipped"
    assert index[str(tmp_path / "corpus" / "loop.py")]["status"] == "timeout"
    assert all(e["reason"] for e in index.values() if e["status"] != "ok")
    summary = json.loads(done.stdout)
    assert sum(r["files"] for r in summary) == len(inputs)


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    inputs = make_corpus(tmp_path / "corpus", n_slow=16)
    dump = tmp_path / "dump"
    kill_after_shards(2, tmp_path / "corpus", "--out", dump, "--workers", "2", "--shard-size", "2")
    assert 0 < len(sources(dump)) < len(inputs), "the kill must land mid-run for this test to mean anything"
    resumed = batch(tmp_path / "corpus", "--out", dump, "--workers", "1", "--shard-size", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(sources(dump)) == inputs  # each exactly once, worker count changed freely


def make_mixed_corpus(root):
    """Real programs in several languages (Java's go through its compile server), hostile ones
    and every kind of bad input."""
    root.mkdir()
    fixtures = Path(__file__).resolve().parents[1] / "instrumenters"
    for lang, ext, n in (("java", "java", 4), ("go", "go", 2), ("rust", "rs", 1), ("javascript", "js", 2),
                         ("python", "py", 3), ("c", "c", 2)):
        picked = [p for p in sorted((fixtures / lang / "tests" / "fixtures").glob(f"*.{ext}"))
                  if not p.stem.startswith("bench")][:n]
        for p in picked:
            (root / lang).mkdir(exist_ok=True)
            shutil.copy(p, root / lang / p.name)
    shutil.copytree(Path(__file__).parent / "sandbox" / "hostile", root / "hostile")
    bad = root / "bad"
    bad.mkdir()
    (bad / "syntax.py").write_text("def f(:\n")
    (bad / "latin1.py").write_bytes(b"print('caf\xe9')\n")
    (bad / "binary.c").write_bytes(bytes(range(256)) * 4)
    (bad / "empty.rb").write_bytes(b"")
    (bad / "huge.js").write_text("let x = 0;\n" * 200_000)
    (bad / "data.csv").write_text("a,b\n1,2\n")
    (bad / "Wrong.java").write_text("public class Wrong { public static void main(String[] a) { int x = \"no\"; } }\n")
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


def test_a_mixed_hostile_corpus_killed_halfway_ends_with_every_input_once(tmp_path):
    inputs = make_mixed_corpus(tmp_path / "corpus")
    dump = tmp_path / "dump"
    kill_after_shards(6, tmp_path / "corpus", "--out", dump, "--workers", "2")
    assert 0 < len(sources(dump)) < len(inputs), "the kill must land mid-run for this test to mean anything"
    resumed = batch(tmp_path / "corpus", "--out", dump, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(sources(dump)) == inputs   # every input exactly once
    index = {Path(e["source"]).relative_to(tmp_path / "corpus").as_posix(): e for e in records.dump_index(dump)}
    assert all(e["reason"] for e in index.values() if e["status"] != "ok")
    status = {k: e["status"] for k, e in index.items()}
    assert [status[f"java/{Path(p).name}"] for p in inputs if "/java/" in p] == ["ok"] * 4
    assert status["bad/syntax.py"] == "skipped"
    assert {status[k] for k in ("bad/latin1.py", "bad/binary.c", "bad/empty.rb")} == {"skipped"}
    assert {status[k] for k in ("bad/huge.js", "bad/data.csv")} == {"input_error"}
    assert status["bad/Wrong.java"] == "compile_error"
    assert "incompatible types" in index["bad/Wrong.java"]["reason"]
    # (a loaded machine may not allocate the default 1 GiB within the 2 s: then it is a timeout)
    assert status["hostile/forkbomb.py"] != "ok" and status["hostile/memhog.c"] in ("memory_limit", "timeout")
    assert status["hostile/spin.py"] == status["hostile/sleep.c"] == "timeout"
    summary = json.loads(resumed.stdout)
    assert sum(r["files"] for r in summary) == len(inputs)
    assert sum(r["ok"] + sum(r["failed"].values()) for r in summary) == len(inputs)


def test_other_settings_are_refused_on_an_existing_dump(tmp_path):
    make_corpus(tmp_path / "corpus", n_slow=0)
    assert batch(tmp_path / "corpus", "--out", tmp_path / "dump", "--languages", "c").returncode == 0
    assert sources(tmp_path / "dump") == [str(tmp_path / "corpus" / n) for n in ("blob.c", "main.c")]
    again = batch(tmp_path / "corpus", "--out", tmp_path / "dump", "--shard-size", "5")
    assert again.returncode != 0 and "other settings" in again.stderr


def test_a_changed_corpus_is_refused_on_resume(tmp_path):
    inputs = make_corpus(tmp_path / "corpus", n_slow=0)
    assert batch(tmp_path / "corpus", "--out", tmp_path / "dump").returncode == 0
    (tmp_path / "corpus" / "added.py").write_text("print('new')\n")
    again = batch(tmp_path / "corpus", "--out", tmp_path / "dump")
    assert again.returncode != 0 and "corpus changed" in again.stderr
    assert sorted(sources(tmp_path / "dump")) == inputs   # the dump is as it was


def test_shard_size_follows_corpus_size():
    # small corpora are cut fine enough to keep every worker busy to the end; large ones in 64s
    assert [batch_mod.auto_shard_size(n) for n in (1, 10, 200, 1000, 4096, 10**6)] == [2, 2, 4, 16, 64, 64]


def test_jsonl_and_parquet_rows(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow comes with the test extra")
    import pyarrow.parquet as pq

    rows = [{"content": "x = 40 + 2\nprint(x)\n", "language": "Python", "path": "rows/a.py"},
            {"content": "int main(void) { return 0; }\n", "language": "c", "path": "rows/b.c"},
            {"content": "print('no language, no path')\n"}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "oops\n")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    done = batch(tmp_path / "rows.jsonl", tmp_path / "rows.parquet", "--out", tmp_path / "dump", "--shard-size", "2")
    assert done.returncode == 0, done.stderr
    index = records.dump_index(tmp_path / "dump")
    assert len(index) == 4 + 3
    by_source = {}
    for e in index:
        by_source.setdefault(e["source"], []).append(e["status"])
    assert by_source["rows/a.py"] == ["ok", "ok"]
    assert by_source["rows/b.c"] == ["ok", "ok"]
    assert by_source[f"{tmp_path / 'rows.jsonl'}#3"] == ["input_error"]


def test_ray_executor_gives_the_same_dump(tmp_path):
    pytest.importorskip("ray", reason="Ray comes with the test extra")
    make_corpus(tmp_path / "corpus", n_slow=2)
    local = batch(tmp_path / "corpus", "--out", tmp_path / "local", "--shard-size", "3")
    ray = batch(tmp_path / "corpus", "--out", tmp_path / "ray", "--shard-size", "3", "--executor", "ray",
                "--workers", "2")
    assert local.returncode == 0 and ray.returncode == 0, ray.stderr

    def outcome(dump):
        return sorted((e["source"], e["status"], e["events"]) for e in records.dump_index(dump))

    assert outcome(tmp_path / "ray") == outcome(tmp_path / "local")


def test_dump_commands_read_a_batch_dump(tmp_path):
    make_corpus(tmp_path / "corpus", n_slow=0)
    batch(tmp_path / "corpus", "--out", tmp_path / "dump")
    listed = subprocess.run([*TRACE, "dump", "list", str(tmp_path / "dump"), "--json"], capture_output=True, text=True)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {r["status"] for r in rows} >= {"ok", "input_error", "skipped", "timeout"}
    ok_py = str(tmp_path / "corpus" / "ok.py")
    shown = subprocess.run([*TRACE, "dump", "show", str(tmp_path / "dump"), ok_py, "--json"], capture_output=True,
                           text=True)
    trace = [json.loads(line) for line in shown.stdout.splitlines()]
    assert trace[0]["kind"] == "header" and trace[-1]["status"] == "ok"
    assert any(e["kind"] == "output" and e["text"] == "3\n" for e in trace)
    stats = subprocess.run([*TRACE, "dump", "stats", str(tmp_path / "dump"), "--json"], capture_output=True, text=True)
    assert json.loads(stats.stdout)["python"]["files"] == 4


def test_a_shard_that_raises_keeps_no_index(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"content": "print(1)\\n", "language": "python"}\n' * 4)
    first = next(corpus.shards([rows], 4))
    rows.unlink()     # the corpus file is gone once the worker starts: no input of the shard can be read
    step = batch_mod.TraceStep(batch_mod.Settings(corpus=(str(rows),), sandbox="none"))
    with pytest.raises(FileNotFoundError):
        shards.run_shard(step, first, tmp_path / "dump")
    assert not records.index_path(tmp_path / "dump", first.name).exists()
    assert not list((tmp_path / "dump").glob("*.msgpack*"))
    assert shards.done_shards(tmp_path / "dump") == {}


def test_a_shard_is_written_by_one_writer_at_a_time(tmp_path):
    import threading

    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"content": "print(1)\\n", "language": "python"}\n' * 2)
    shard = next(corpus.shards([rows], 2))
    step = batch_mod.TraceStep(batch_mod.Settings(corpus=(str(rows),), sandbox="none"))
    out = tmp_path / "dump"
    second: list = []
    with shards.claim(out, shard.name) as mine:      # a leftover worker of a killed run holds it
        assert mine
        racer = threading.Thread(target=lambda: second.append(shards.run_shard(step, shard, out)))
        racer.start()
        time.sleep(0.5)
        assert racer.is_alive() and not list(out.glob(".*.msgpack.tmp")), "the second writer must wait"
        marked = shards.ShardOutput(out, shard)
        step.run(shard, marked)
        (out / ".pipeline" / "done").mkdir(parents=True)
        shards.marker_path(out, shard.name).write_text("{}")
    racer.join(30)
    assert second == [None]                       # it found the shard done and left it alone
    assert len(records.dump_index(out)) == 2


def test_rows_carry_their_provenance_into_the_trace_header(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow comes with the test extra")
    import pyarrow.parquet as pq

    rows = [{"content": "print(1)\n", "language": "Python", "path": "src/a.py", "blob_id": "b1",
             "repo_name": "octo/one", "license": "mit", "detected_licenses": ["mit", "apache-2.0"]},
            {"content": "print(2)\n", "language": "Python", "path": "src/a.py", "blob_id": "b2",
             "repo_name": "octo/two", "license": "bsd-3-clause", "detected_licenses": []}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    done = batch(tmp_path / "rows.jsonl", tmp_path / "rows.parquet", "--out", tmp_path / "dump")
    assert done.returncode == 0, done.stderr
    index = records.dump_index(tmp_path / "dump")
    headers = [records.dump_trace(tmp_path / "dump", e)[0] for e in index]
    assert [h["input"]["source_id"] for h in headers] == [e["source_id"] for e in index] == [
        f"{tmp_path / f}#{i}" for f in ("rows.jsonl", "rows.parquet") for i in (0, 1)]   # unique, same path twice
    for h, row in zip(headers, rows * 2, strict=True):
        assert {k: h["input"][k] for k in ("blob_id", "repo_name", "path", "license")} == {
            k: row[k] for k in ("blob_id", "repo_name", "path", "license")}
        assert h["input"].get("detected_licenses", []) == row["detected_licenses"]


def numbered_rows(n):
    return [{"content": f"print({i})\n", "language": "python", "path": f"r{i}.py"} for i in range(n)]


def test_parquet_shards_read_only_their_row_groups(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow", reason="pyarrow comes with the test extra")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(numbered_rows(20)), tmp_path / "t.parquet", row_group_size=5)
    read: list[int] = []
    real = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda self, g, **kw: read.append(g) or real(self, g, **kw))
    monkeypatch.setattr(pq, "read_table", lambda *a, **kw: pytest.fail("a shard read the whole file"))
    plan = list(corpus.shards([tmp_path / "t.parquet"], 4))
    got = []
    for shard in plan:
        got += [item.source for item in shard.items()]
    assert got == [f"r{i}.py" for i in range(20)]
    assert read == [0, 1, 2, 3]     # each group decoded once, though shards 2-4 straddle groups


def test_gzip_jsonl_shards_in_any_order(tmp_path):
    import gzip

    with gzip.open(tmp_path / "t.jsonl.gz", "wt") as fh:
        for r in numbered_rows(10):
            fh.write(json.dumps(r) + "\n\n")
    plan = list(corpus.shards([tmp_path / "t.jsonl.gz"], 3))
    assert [s.count for s in plan] == [3, 3, 3, 1]

    def rows(shard):
        return [(i.input["source_id"].rsplit("#")[1], i.content) for i in shard.items()]

    expect = {s.name: [(str(k), f"print({k})\n".encode()) for k in range(s.start, s.stop)] for s in plan}
    for order in (plan, plan[::-1], [plan[1], plan[3], plan[0], plan[2]]):   # one worker, shards in any order
        assert {s.name: rows(s) for s in order} == expect


def test_a_folder_of_tables_is_a_table_corpus(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow comes with the test extra")
    import gzip

    import pyarrow.parquet as pq

    data = tmp_path / "dataset"
    (data / "python").mkdir(parents=True)
    rows = numbered_rows(6)
    (data / "python" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    with gzip.open(data / "python" / "b.jsonl.gz", "wt") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows[2:4]))
    pq.write_table(pa.Table.from_pylist(rows[4:]), data / "c.parquet")
    done = batch(data, "--out", tmp_path / "dump", "--json")
    assert done.returncode == 0, done.stderr
    index = records.dump_index(tmp_path / "dump")
    assert sorted(e["source"] for e in index) == sorted(r["path"] for r in rows)
    assert {e["status"] for e in index} == {"ok"}
    (data / "README.md").write_text("not a table\n")      # now a folder of files: each table is one input
    mixed = list(corpus.shards([data], 64))
    assert [s.kind for s in mixed] == ["files"] and mixed[0].count == 4


def test_an_exception_on_one_input_is_its_record_and_the_shard_goes_on(tmp_path, monkeypatch):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"content": f"print({i})\n", "language": "python", "path": f"r{i}.py"}) + "\n"
                            for i in range(3)))
    shard = next(corpus.shards([rows], 3))
    real = batch_mod.trace_input

    def trace_input(source, *a, **kw):     # a host-side bug that only this input meets
        if source == "r1.py":
            raise RecursionError("maximum recursion depth exceeded")
        return real(source, *a, **kw)

    monkeypatch.setattr(batch_mod, "trace_input", trace_input)
    step = batch_mod.TraceStep(batch_mod.Settings(corpus=(str(rows),), sandbox="none"))
    marker = shards.run_shard(step, shard, tmp_path / "dump")
    assert marker["inputs"] == 3 and marker["statuses"] == {"ok": 2, "input_error": 1}
    index = {e["source"]: e for e in records.dump_index(tmp_path / "dump")}
    assert index["r1.py"]["status"] == "input_error" and "RecursionError" in index["r1.py"]["reason"]
    failed = records.dump_trace(tmp_path / "dump", index["r1.py"])
    assert failed[-1]["exception"] == "RecursionError" and failed[0]["input"]["source_id"] == f"{rows}#1"


def test_a_row_longer_than_the_size_cap_allows_is_a_failure_and_never_read_whole(tmp_path):
    rows = tmp_path / "rows.jsonl"
    long = json.dumps({"content": "x = 1\n" * 40_000, "language": "python"})      # 240 KB
    rows.write_text("\n".join([json.dumps({"content": "print(1)\n", "language": "python"}), long,
                               "", json.dumps({"content": "print(3)\n", "language": "python"})]) + "\n")
    plan = list(corpus.shards([rows], 2, max_bytes=1024))
    assert [s.count for s in plan] == [2, 1]
    items = [i for s in plan for i in s.items()]
    assert [i.input["row"] for i in items] == [0, 1, 2]
    assert items[1].error and "over" in items[1].error and items[1].content is None
    assert items[0].content == b"print(1)\n" and items[2].content == b"print(3)\n"
