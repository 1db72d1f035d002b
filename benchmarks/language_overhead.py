"""Traced vs untraced run time, and events per second, for every language on one CPU-bound fixture.

The program is `benchmarks/programs/bench_loop.<ext>` where there is one (a gcd loop), else the
language's `instrumenters/<id>/tests/fixtures/bench_loop.<ext>`. Both runs go through the same sandbox and
runtime; times are the run phase only (compiles excluded), best of --repeat.

    python benchmarks/language_overhead.py [--repeat 3] [--max-events N] [LANG ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from codealchemy.tracer import plugins
from codealchemy.tracer.backends.local import LocalBackend
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.tracing import run_untraced, trace_source

PROGRAMS = Path(__file__).resolve().parent / "programs"


def fixture(lang):
    for folder in (PROGRAMS, lang.instrumenter_dir / "tests" / "fixtures"):
        found = [p for p in folder.glob("bench_loop.*") if p.suffix in lang.extensions]
        if found:
            return found[0]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("langs", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-events", type=int, default=1_000_000)
    args = ap.parse_args()
    backend = LocalBackend()
    limits = Limits(timeout=120, max_events=args.max_events)
    print(f"{'language':<11} {'fixture':<16} {'events':>8} {'untraced s':>10} {'traced s':>9} {'ratio':>6} "
          f"{'events/s':>10} {'ns/event':>9}")
    for lang in plugins.languages():
        path = fixture(lang)
        if (args.langs and lang.id not in args.langs) or path is None or lang.runtime.missing_tools():
            continue
        source = path.read_bytes()
        plain, traced, events = [], [], 0
        for _ in range(args.repeat):
            result = run_untraced(source.decode(), lang, backend, limits)
            if result.run is None or not result.run.ok:
                break
            plain.append(result.run.cpu)
            foot = list(trace_source(source, lang, source=str(path), backend=backend, limits=limits))[-1]
            traced.append(foot["cpu"])
            events = foot["events"]
        if not plain or not traced:
            print(f"{lang.id:<11} {path.name:<16} (did not run)")
            continue
        u, t = min(plain), min(traced)
        print(f"{lang.id:<11} {path.name:<16} {events:>8} {u:>10.3f} {t:>9.3f} {t / max(u, 1e-6):>6.1f} "
              f"{events / max(t, 1e-6):>10.0f} {(t - u) / max(events, 1) * 1e9:>9.0f}")


if __name__ == "__main__":
    main()
