"""Do real programs behave the same traced? Stdout bytes and exit code, untraced vs traced.

For every file of the corpus that build_corpus.py made: run it untraced, then trace it, both on
the real local backend (same sandbox, same runtime). Per language it prints the files, behaviour
preserved % (identical stdout bytes and exit code), trace complete % (footer ok, not truncated,
events > 0) and the traced/untraced run-time ratios, wall and CPU (medians of per-file ratios,
compile excluded). `--timeout` sets the run phase's wall-clock limit (default: the runtime's
own); on a loaded machine a traced run can pass it on wall time alone. Every difference goes to
--report (JSON) with both outcomes, the first lines of the stdout diff and the trace's reason. A
program that does not run cleanly untraced is listed as "unfit": it belongs out of the manifest,
and it is not counted.

    python benchmarks/real_programs/run.py [--corpus DIR] [--languages L ...] [--jobs N] [--report FILE]
"""

from __future__ import annotations

import argparse
import difflib
import json
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codealchemy.tracer import plugins
from codealchemy.tracer.backends.local import LocalBackend
from codealchemy.tracer.limits import resolve
from codealchemy.tracer.tracing import run_untraced, trace_source

DEFAULT_CORPUS = Path("/work/corpus/real_programs")
DIFF_LINES = 20


class Recording:
    """A backend that keeps the RunResult of its last run (the traced program's own stdout)."""

    def __init__(self, backend):
        self._backend = backend
        self.last = None

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def run(self, request):
        self.last = self._backend.run(request)
        return self.last


def _text(data: bytes, limit: int = 2000) -> str:
    return data.decode("utf-8", "replace")[:limit]


def check(path: Path, lang, backend, overrides: dict) -> dict:
    """One file's outcome: fit or not, preserved or not, trace complete or not, both run times."""
    data = path.read_bytes()
    limits = resolve(lang.runtime.limits, overrides)
    out = {"file": str(path), "language": path.parent.name}
    plain = run_untraced(data, lang, backend, limits)
    phase = plain.final
    if plain.run is None or phase.status != "ok":
        out.update(unfit=f"untraced: {phase.status} (exit {phase.exit_code}) {_text(phase.stderr, 300)}")
        return out
    recorder = Recording(backend)
    records = list(trace_source(data, lang, source=str(path), backend=recorder, limits=limits))
    foot = records[-1]
    traced = recorder.last.run if recorder.last is not None else None
    t_stdout = traced.stdout if traced is not None else b""
    t_exit = traced.exit_code if traced is not None else None
    out.update(preserved=traced is not None and t_stdout == plain.run.stdout and t_exit == plain.run.exit_code,
               complete=foot.get("status") == "ok" and not foot.get("truncated") and foot.get("events", 0) > 0,
               ratio=(traced.wall / max(plain.run.wall, 1e-6)) if traced is not None else None,
               cpu_ratio=(traced.cpu / max(plain.run.cpu, 1e-3)) if traced is not None else None)
    if not out["preserved"] or not out["complete"]:
        diff = difflib.unified_diff(_text(plain.run.stdout, 100_000).splitlines(),
                                    _text(t_stdout, 100_000).splitlines(), "untraced", "traced", lineterm="", n=1)
        out.update(untraced={"exit": plain.run.exit_code, "status": phase.status},
                   traced={"exit": t_exit, "status": foot.get("status"), "events": foot.get("events"),
                           "truncated": foot.get("truncation"), "reason": foot.get("reason"),
                           "stderr": (foot.get("stderr") or "")[-1000:]},
                   diff=[line for _, line in zip(range(DIFF_LINES), diff, strict=False)])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--languages", nargs="*")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, help="wall seconds per run (default: the runtime's limit)")
    ap.add_argument("--report", type=Path, default=Path("real_programs_report.json"))
    args = ap.parse_args()
    registry = plugins.languages()
    backend = LocalBackend()
    work = []
    for folder in sorted(p for p in args.corpus.iterdir() if p.is_dir()):
        if args.languages and not {folder.name, folder.name.split(".")[0]} & set(args.languages):
            continue
        lang = registry.get(folder.name.split(".")[0])   # python.cruxeval: a suite of python programs
        if lang.runtime.missing_tools():
            print(f"{folder.name}: not runnable here (missing {', '.join(lang.runtime.missing_tools())})")
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix == ".stdin":
                continue
            if path.with_name(path.name + ".stdin").exists():   # the backends give programs no stdin
                print(f"{path}: needs stdin, which the backends do not give; not run", file=sys.stderr)
                continue
            work.append((path, lang))
    try:
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            overrides = {"timeout": args.timeout} if args.timeout else {}
            results = list(pool.map(lambda item: check(item[0], item[1], backend, overrides), work))
    finally:
        backend.close()
    print(f"{'language':<16} {'files':>5} {'unfit':>5} {'preserved %':>11} {'complete %':>10} {'wall ratio':>10} "
          f"{'cpu ratio':>9}")
    for lang_id in sorted({r["language"] for r in results}):
        mine = [r for r in results if r["language"] == lang_id]
        fit = [r for r in mine if "unfit" not in r]
        ratios = [r["ratio"] for r in fit if r.get("ratio") is not None]
        cpu = [r["cpu_ratio"] for r in fit if r.get("cpu_ratio") is not None]
        preserved, complete = (100.0 * sum(bool(r[k]) for r in fit) / max(len(fit), 1)
                               for k in ("preserved", "complete"))
        print(f"{lang_id:<16} {len(fit):>5} {len(mine) - len(fit):>5} {preserved:>11.1f} "
              f"{complete:>10.1f} {statistics.median(ratios) if ratios else 0:>10.2f} "
              f"{statistics.median(cpu) if cpu else 0:>9.2f}")
    report = {"differences": [r for r in results if "unfit" not in r and not (r["preserved"] and r["complete"])],
              "unfit": [{"file": r["file"], "reason": r["unfit"]} for r in results if "unfit" in r]}
    args.report.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"{len(report['differences'])} differences, {len(report['unfit'])} unfit: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
