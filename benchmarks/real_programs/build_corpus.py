"""Rebuild the real-program corpus (third-party programs, never committed) from the manifests.

Each `<language-id>.tsv` beside this script lists `repo<TAB>commit<TAB>path[<TAB>stdin]` rows
under a header line. A row is read from a local mirror (`--mirrors DIR` holding
`owner+name/...` git dirs) when one holds the commit, else from a blobless clone. The corpus
goes to `--out`: `<lang>/<NNN>_<safe name>.<ext>` and `index.json`, which maps every file back
to repo, commit and path, so each result can be traced to its origin.

A manifest `<language-id>.<suite>.tsv` makes the folder `<language-id>.<suite>` (its own row in
run.py's table). A path `FILE.jsonl#ID` is a CRUXEval-style sample: the JSON line of FILE whose
`id` is ID holds a function `f` (`code`) and its arguments (`input`); the program is the code
followed by `print(repr(f(INPUT)))`.

    python benchmarks/real_programs/build_corpus.py [--out DIR] [--mirrors DIR] [--languages L ...]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parent
DEFAULT_OUT = Path("/work/corpus/real_programs")
DEFAULT_MIRRORS = Path("/work/.mirror")


def read_manifest(path: Path) -> list[dict]:
    """The rows of one manifest; a malformed row is an error naming its line."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) not in (3, 4) or not all(cols):
            raise SystemExit(f"{path}:{number}: want repo<TAB>commit<TAB>path[<TAB>stdin], got {line!r}")
        rows.append(dict(zip(("repo", "commit", "path", "stdin"), cols, strict=False)))
    return rows


class Sources:
    """Blobs by (repo, commit, path): from a mirror git dir, else a blobless clone made once per repo."""

    def __init__(self, mirrors: Path | None, scratch: Path):
        self.mirrors = mirrors
        self.scratch = scratch
        self.git_dirs: dict[str, Path] = {}
        self.blobs: dict[tuple[str, str, str], bytes] = {}

    def _mirror(self, repo: str) -> Path | None:
        if self.mirrors is None:
            return None
        base = self.mirrors / repo.replace("/", "+")
        if not base.is_dir():
            return None
        if (base / "HEAD").is_file():
            return base
        return next((p.parent for p in sorted(base.rglob("HEAD")) if (p.parent / "objects").is_dir()), None)

    def _git_dir(self, repo: str) -> Path:
        if repo not in self.git_dirs:
            found = self._mirror(repo)
            if found is None:
                found = self.scratch / repo.replace("/", "+")
                subprocess.run(["git", "clone", "--quiet", "--bare", "--filter=blob:none",
                                f"https://github.com/{repo}.git", str(found)], check=True)
            self.git_dirs[repo] = found
        return self.git_dirs[repo]

    def show(self, repo: str, commit: str, path: str) -> bytes:
        key = (repo, commit, path)
        if key not in self.blobs:   # (a JSONL of samples is read once)
            self.blobs[key] = self._show(repo, commit, path)
        return self.blobs[key]

    def _show(self, repo: str, commit: str, path: str) -> bytes:
        git_dir = self._git_dir(repo)
        done = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], capture_output=True)
        if done.returncode != 0:
            raise LookupError(f"{repo}@{commit}:{path}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout


def program(sources: Sources, row: dict) -> bytes:
    """The program a manifest row names (a file, or a CRUXEval-style sample of a JSONL file)."""
    path, _, sample = row["path"].partition("#")
    data = sources.show(row["repo"], row["commit"], path)
    if not sample:
        return data
    for line in data.decode("utf-8").splitlines():
        item = json.loads(line) if line.strip() else {}
        if item.get("id") == sample:
            return f"{item['code']}\nprint(repr(f({item['input']})))\n".encode()
    raise LookupError(f"{row['repo']}@{row['commit']}:{path}: no sample {sample!r}")


def safe_name(path: str) -> str:
    path, _, sample = path.partition("#")
    stem = sample or Path(path).stem
    parent = Path(path).parent.name
    name = f"{parent}_{stem}" if parent else stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS)
    ap.add_argument("--languages", nargs="*")
    args = ap.parse_args()
    index: dict[str, dict] = {}
    index_path = args.out / "index.json"
    if index_path.is_file():   # other languages' entries stay when only some are rebuilt
        index = json.loads(index_path.read_text(encoding="utf-8"))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="real_programs_") as scratch:
        sources = Sources(args.mirrors if args.mirrors.is_dir() else None, Path(scratch))
        for manifest in sorted(MANIFESTS.glob("*.tsv")):
            lang = manifest.stem
            if args.languages and lang not in args.languages:
                continue
            folder = args.out / lang
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.iterdir():
                old.unlink()
            index = {k: v for k, v in index.items() if v["language"] != lang}
            for n, row in enumerate(read_manifest(manifest), start=1):
                ext = ".py" if "#" in row["path"] else Path(row["path"]).suffix
                name = f"{n:03d}_{safe_name(row['path'])}{ext}"
                try:
                    (folder / name).write_bytes(program(sources, row))
                    if row.get("stdin"):
                        (folder / f"{name}.stdin").write_bytes(sources.show(row["repo"], row["commit"], row["stdin"]))
                except (LookupError, subprocess.CalledProcessError) as e:
                    print(f"{manifest.name}:{n}: {e}", file=sys.stderr)
                    failed += 1
                    continue
                index[f"{lang}/{name}"] = {"language": lang, **row}
            print(f"{lang}: {sum(1 for v in index.values() if v['language'] == lang)} files")
    args.out.mkdir(parents=True, exist_ok=True)
    index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
