"""Drivers for library files, on real code: how many files of real repositories have no entry
point, and how many of those end with a useful trace when a model writes their driver.

The sample comes from the mirrored repositories (`fetch` lays them out as MIRRORS/owner+name/repo,
bare git directories): per language, the files of its repository with the language's extension,
outside test folders, at most --max-bytes, in an order fixed by a hash of their paths. Of the
first --scan of them it reports the share that `tracer.drivers.shape` finds without an entry
point; the first --per-language of those are traced with
`trace batch --driver-generator GENERATOR`, and it reports the share whose driver was verified
(ran with status ok and reached at least one of the file's functions) and their mean coverage.

    python benchmarks/drivers.py                       # the bundled small model (llamacpp)
    python benchmarks/drivers.py --option model=qwen2.5-coder-1.5b   # trace models install it first
    python benchmarks/drivers.py --generator openai --option base_url=http://127.0.0.1:8000/v1
    python benchmarks/drivers.py --no-drivers          # only the share without an entry point
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from codealchemy.tracer import drivers, plugins, records

#: language -> the mirrored repository its sample comes from
REPOS = {"python": "TheAlgorithms+Python", "javascript": "TheAlgorithms+JavaScript", "c": "TheAlgorithms+C",
         "go": "TheAlgorithms+Go", "rust": "TheAlgorithms+Rust", "java": "TheAlgorithms+Java",
         "typescript": "TheAlgorithms+TypeScript", "ruby": "TheAlgorithms+Ruby", "php": "TheAlgorithms+PHP",
         "cpp": "TheAlgorithms+C-Plus-Plus",
         # no TheAlgorithms repository of these is mirrored: Rosetta Code's tasks, mostly whole programs
         "bash": "stefanos1316+Rosetta_Code_Research_MSR", "csharp": "stefanos1316+Rosetta_Code_Research_MSR"}
TESTS = re.compile(r"(^|/)(tests?|__tests__|spec|testdata)(/|$)|[._-](test|spec)s?\.\w+$|(^|/)test_[^/]*$", re.I)


def candidates(git_dir: Path, extensions: tuple[str, ...], max_bytes: int) -> list[tuple[str, bytes]]:
    """(path, content) of the repository's files of these extensions, tests left out, hash order."""
    listing = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-l", "HEAD"], capture_output=True,
                             text=True, check=True).stdout
    chosen = []
    for line in listing.splitlines():
        meta, _, path = line.partition("\t")
        _, kind, blob, size = meta.split()
        if kind == "blob" and path.endswith(extensions) and not TESTS.search(path) and int(size) <= max_bytes:
            chosen.append((hashlib.sha256(path.encode()).hexdigest(), path, blob))
    chosen.sort()
    blobs = "".join(f"{b}\n" for _, _, b in chosen).encode()
    out = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "--batch"], input=blobs,
                         capture_output=True, check=True).stdout
    files, pos = [], 0
    for _, path, _ in chosen:
        head_end = out.index(b"\n", pos)
        size = int(out[pos:head_end].split()[2])
        files.append((path, out[head_end + 1:head_end + 1 + size]))
        pos = head_end + 1 + size + 1
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--languages", default=",".join(REPOS))
    ap.add_argument("--scan", type=int, default=100, help="Files per language whose entry points are counted.")
    ap.add_argument("--per-language", type=int, default=5, help="Files without an entry point traced with drivers.")
    ap.add_argument("--max-bytes", type=int, default=3000, help="Larger files are left out (the model's context).")
    ap.add_argument("--generator", default="llamacpp")
    ap.add_argument("--option", action="append", default=[], help="Generator option key=value.")
    ap.add_argument("--param", action="append", default=None, help="Sampling param key=value (default max_tokens=384).")
    ap.add_argument("--attempts", type=int, default=2, help="Driver tries per file (trace batch --driver-attempts).")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-drivers", action="store_true", help="Only count entry points.")
    ap.add_argument("--keep", type=Path, help="Write the corpus and dump here (default: a temporary folder).")
    args = ap.parse_args()
    registry = plugins.languages()
    work = args.keep or Path(tempfile.mkdtemp(prefix="drivers-bench-"))
    corpus = work / "corpus"
    shares = {}
    for lang_id in args.languages.split(","):
        lang = registry.get(lang_id)
        git_dir = args.mirrors / REPOS[lang_id] / "repo"
        if not git_dir.is_dir():
            print(f"{lang_id}: no mirror at {git_dir} (fetch github:{REPOS[lang_id].replace('+', '/')})",
                  file=sys.stderr)
            continue
        scanned = candidates(git_dir, lang.extensions, args.max_bytes)[:args.scan]
        kinds = Counter()
        library = []
        for path, data in scanned:
            found = drivers.shape(data, lang)
            kind = ("undecided" if found is None else "entry" if found.entry else
                    "no functions" if not found.functions else "no_entry_point")
            kinds[kind] += 1
            if kind == "no_entry_point" and len(library) < args.per_language:
                library.append((path, data))
        shares[lang_id] = (len(scanned), kinds)
        for path, data in library:
            dest = corpus / lang_id / path.replace("/", "__")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    print("\n== entry points (tracer.drivers.shape) ==")
    print(f"{'language':<11} {'files':>5} {'no entry point':>15} {'entry':>6} {'no functions':>13} {'undecided':>10}")
    for lang_id, (n, k) in shares.items():
        print(f"{lang_id:<11} {n:>5} {k['no_entry_point']:>6} ({k['no_entry_point'] / max(n, 1):>5.0%}) "
              f"{k['entry']:>6} {k['no functions']:>13} {k['undecided']:>10}")
    if args.no_drivers or not corpus.is_dir():
        return
    params = args.param if args.param is not None else ["max_tokens=384"]
    cmd = ["trace", "batch", str(corpus), "--out", str(work / "dump"), "--workers", str(args.workers),
           "--driver-generator", args.generator, "--driver-attempts", str(args.attempts),
           *[x for o in args.option for x in ("--driver-option", o)],
           *[x for p in params for x in ("--driver-param", p)]]
    print(f"\n$ {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "codealchemy.tracer.cli", *cmd[1:]], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"trace batch failed ({done.returncode}): {done.stderr[-2000:]}")
    seconds = time.monotonic() - t0
    per: dict[str, dict] = {}
    for e in records.dump_index(work / "dump"):
        foot = records.dump_trace(work / "dump", e)[-1]
        d = foot.get("driver") or {}
        row = per.setdefault(e["language"], {"files": 0, "verified": 0, "coverage": [], "reasons": Counter()})
        row["files"] += 1
        if d.get("status") == "verified":
            row["verified"] += 1
            row["coverage"].append(d["coverage"])
        else:
            why = d.get("reason") or foot.get("reason") or foot["status"]
            row["reasons"][re.sub(r"\s*\(.*", "", why)[:70]] += 1
    print(f"\n== drivers by {args.generator} ({seconds:.0f} s) ==")
    print(f"{'language':<11} {'files':>5} {'verified':>12} {'mean coverage':>14}  main reasons for rejection")
    for lang_id, r in sorted(per.items()):
        cov = f"{sum(r['coverage']) / len(r['coverage']):.0%}" if r["coverage"] else "-"
        reasons = "; ".join(f"{n}× {w}" for w, n in r["reasons"].most_common(2))
        share = r["verified"] / r["files"]
        print(f"{lang_id:<11} {r['files']:>5} {r['verified']:>3} ({share:>5.0%}) {cov:>14}  {reasons}")
    total = sum(r["files"] for r in per.values())
    verified = sum(r["verified"] for r in per.values())
    print(f"{'all':<11} {total:>5} {verified:>3} ({verified / max(total, 1):>5.0%})")
    print(json.dumps({"dump": str(work / "dump")}))


if __name__ == "__main__":
    main()
