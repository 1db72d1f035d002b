"""Hostile corpus entries on the host side: links, special files, huge files, odd names.

The host reads the corpus as root, so an entry must never make it read (or hang on) anything
but a regular file inside the corpus; each such entry is one failure record saying why.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

SECRET = "codealchemy-host-secret-7f3a9c"


def make_hostile_tree(root: Path, outside: Path) -> dict[str, str]:
    """A corpus of links and special files; returns name -> the reason its record must give."""
    root.mkdir()
    outside.mkdir()
    (outside / "secret.py").write_text(f"print({SECRET!r})\n")
    (outside / "inner.py").write_text(f"print({SECRET!r})\n")
    (root / "ok.py").write_text("print(6 * 7)\n")
    (root / "big.py").write_text("x = 1\n" * 400)
    expect = {"big.py": "over the 1024-byte limit"}
    for name, target in (("secret.py", outside / "secret.py"), ("environ.py", "/proc/self/environ"),
                         ("zero.py", "/dev/zero"), ("shadow.py", "/etc/shadow"), ("dangling.py", "/nonexistent")):
        os.symlink(target, root / name)
        expect[name] = "symbolic link"
    os.symlink(outside, root / "linked_dir")           # a link to a folder: never entered
    expect["linked_dir"] = "symbolic link"
    os.mkfifo(root / "fifo.py")
    expect["fifo.py"] = "a FIFO"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.py"))
    sock.close()
    expect["sock.py"] = "a socket"
    try:
        os.mknod(root / "null.py", stat.S_IFCHR | 0o644, os.makedev(1, 3))
        expect["null.py"] = "a character device"
    except OSError:
        pass   # no CAP_MKNOD here: the links to /dev/zero still cover devices
    return expect


def test_links_and_special_files_are_failures_and_nothing_of_their_targets_is_read(tmp_path, batch, index):
    expect = make_hostile_tree(tmp_path / "corpus", tmp_path / "outside")
    done = batch(tmp_path / "corpus", "--out", tmp_path / "dump", "--max-source-size", "1K", "--workers", "2",
                 timeout=300, env={**os.environ, "CODEALCHEMY_PROBE": SECRET})
    assert done.returncode == 0, done.stderr.decode()
    got = {Path(e["source"]).name: e for e in index(tmp_path / "dump")}
    assert sorted(got) == sorted([*expect, "ok.py"])     # every entry once, the linked folder not entered
    assert got["ok.py"]["status"] == "ok"
    for name, reason in expect.items():
        assert got[name]["status"] == "input_error" and reason in got[name]["reason"], (name, got[name])
    for f in (tmp_path / "dump").rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f"{f} holds data from a link target"


def test_a_folder_swapped_for_a_link_after_the_walk_leads_no_read_outside(tmp_path):
    from codealchemy.tracer import corpus

    root, outside = tmp_path / "corpus", tmp_path / "outside"
    (root / "pkg" / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "pkg" / "sub" / "secret.py").write_text("print(1)\n")
    (outside / "secret.py").write_text(f"print({SECRET!r})\n")
    (root / "pkg" / "fine.py").write_text("print(2)\n")
    [shard] = corpus.shards([root], size=10)
    (root / "pkg" / "sub" / "secret.py").unlink()
    (root / "pkg" / "sub").rmdir()
    os.symlink(outside, root / "pkg" / "sub")           # the race: after the walk, before the read
    items = {Path(i.source).name: i for i in shard.items()}
    assert items["fine.py"].content == b"print(2)\n"
    assert items["secret.py"].content is None and "pkg/sub is a symbolic link" in items["secret.py"].error
    linked_root = tmp_path / "named"                     # the corpus folder the user names may be a link
    os.symlink(root, linked_root)
    [shard] = corpus.shards([linked_root], size=10)
    assert {Path(i.source).name: i.content for i in shard.items()}["fine.py"] == b"print(2)\n"


def test_non_utf8_names_and_surrogates_round_trip(tmp_path, batch, index, trace):
    root = tmp_path / "corpus"
    root.mkdir()
    raw = os.fsencode(root) + b"/caf\xe9.py"
    with open(raw, "wb") as fh:
        fh.write(b"print('named in Latin-1')\n")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"content": "print(1)\n", "language": "python", "path": "lone\ud800.py"}) + "\n")
    done = batch(root, rows, "--out", tmp_path / "dump")
    assert done.returncode == 0, done.stderr.decode()
    entries = {e["source"]: e for e in index(tmp_path / "dump")}
    assert set(entries) == {os.fsdecode(raw), "lone\ud800.py"}
    assert {e["status"] for e in entries.values()} == {"ok"}
    for args in (["list"], ["list", "--json"], ["stats"], ["show", os.fsdecode(raw)]):
        shown = trace("dump", args[0], tmp_path / "dump", *args[1:])
        assert shown.returncode == 0, shown.stderr.decode()
    shown = trace("dump", "show", tmp_path / "dump", os.fsdecode(raw), "--json")
    assert shown.returncode == 0, shown.stderr.decode()
    head = json.loads(shown.stdout.splitlines()[0])
    assert os.fsencode(head["source"]) == raw     # the file's name, byte for byte


def test_a_corpus_tree_deeper_than_the_recursion_limit_is_walked(tmp_path, batch, index):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "top.py").write_text("print('top')\n")
    deepest = str(root)
    for _ in range(1500):                       # deeper than Python's recursion limit, within PATH_MAX
        deepest += "/d"
        os.mkdir(deepest)
    Path(deepest, "bottom.py").write_text("print('bottom')\n")
    try:
        done = batch(root, "--out", tmp_path / "dump")
        assert done.returncode == 0, done.stderr.decode()
        got = {Path(e["source"]).name: e["status"] for e in index(tmp_path / "dump")}
        assert got == {"top.py": "ok", "bottom.py": "ok"}
    finally:   # shutil.rmtree (and so pytest's clean-up) recurses per level: take the chain down by hand
        os.unlink(Path(deepest, "bottom.py"))
        while deepest != str(root):
            os.rmdir(deepest)
            deepest = os.path.dirname(deepest)
