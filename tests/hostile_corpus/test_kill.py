"""Killing the batch's main process alone (as `kill PID` or an OOM killer does, not the process
group): no worker or sandbox survives it, a resume does every input exactly once, and the dump
reads back whole. A reader of a damaged dump names each bad entry and reads on."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from codealchemy.tracer import records

JAVA = Path(__file__).resolve().parents[2] / "instrumenters" / "java" / "tests" / "fixtures"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_killing_the_main_pid_leaves_no_worker_and_the_resume_does_every_input_once(
        tmp_path, batch, index, interrupted, slow_corpus, survivors, sig):
    inputs = slow_corpus(tmp_path / "corpus", n=14)
    for p in sorted(JAVA.glob("*.java"))[:2]:    # a warm javac compile server per worker, too
        shutil.copy(p, tmp_path / "corpus" / p.name)
        inputs.append(str(tmp_path / "corpus" / p.name))
    dump = tmp_path / "dump"
    code, family = interrupted([tmp_path / "corpus", "--out", dump, "--workers", "2", "--shard-size", "2"], sig,
                               group=False, after=2)
    assert code != 0 and family
    assert survivors(family) == [], "processes of the killed batch outlived it"
    assert 0 < len(index(dump)) < len(inputs), "the kill must land mid-run for this test to mean anything"
    resumed = batch(tmp_path / "corpus", "--out", dump, "--workers", "2", "--shard-size", "2")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert sorted(e["source"] for e in index(dump)) == sorted(inputs)


def test_a_damaged_dump_is_read_entry_by_entry(tmp_path, trace):
    dump = tmp_path / "dump"

    def one(source: str) -> list[dict]:
        return [records.header(language="python", source=source, sha256="x", instrumenter={}, limits={},
                               tool="t"), records.footer(status="ok")]

    for shard in ("a", "b", "c"):
        with records.DumpWriter(dump, shard=shard) as w:
            w.add(one(f"{shard}1.py"))
            w.add(one(f"{shard}2.py"))
    with open(dump / "a.msgpack", "r+b") as fh:       # a cut-short shard file: its second entry is gone
        fh.truncate(records.dump_index(dump)[1]["offset"] + 3)
    b2 = next(e for e in records.dump_index(dump, []) if e["source"] == "b2.py")
    with open(dump / "b.msgpack", "r+b") as fh:       # garbled bytes, as two writers of one file leave
        fh.seek(b2["offset"])
        fh.write(b"\xc1" * b2["length"])
    with open(dump / "c.index.jsonl", "a") as fh:     # a cut index line
        fh.write('{"source": "c3.py", "shard": "c.msg')

    problems: list[str] = []
    entries = records.dump_index(dump, problems)
    assert [e["source"] for e in entries] == ["a1.py", "b1.py", "b2.py", "c1.py", "c2.py"]
    assert len(problems) == 2 and "a.index.jsonl" in problems[0] and "c.index.jsonl" in problems[1]
    with pytest.raises(records.RecordError, match="not a trace|not one whole trace"):
        records.dump_trace(dump, b2)

    listed = trace("dump", "list", dump, "--json")
    assert listed.returncode == 0
    assert [json.loads(line)["source"] for line in listed.stdout.splitlines()] == [e["source"] for e in entries]
    assert listed.stderr.decode().count("trace: skipped:") == 2
    shown = trace("dump", "show", dump, "b2.py")
    assert shown.returncode == 2 and b"Traceback" not in shown.stderr and b"b.msgpack" in shown.stderr
    assert trace("dump", "show", dump, "b1.py").returncode == 0
