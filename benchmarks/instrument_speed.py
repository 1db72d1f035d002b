"""Instrumentation speed, MB of source per second, for every language, on its own fixtures.

    python benchmarks/instrument_speed.py [--seconds 2] [LANG ...]
"""

from __future__ import annotations

import argparse
import time

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, instrument


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("langs", nargs="*")
    ap.add_argument("--seconds", type=float, default=2.0, help="time spent per language")
    args = ap.parse_args()
    print(f"{'language':<12} {'files':>5} {'KiB':>8} {'MB/s':>8} {'failed':>6}")
    for lang in plugins.languages():
        if args.langs and lang.id not in args.langs:
            continue
        files = sorted(p for p in (lang.instrumenter_dir / "tests" / "fixtures").glob("*")
                       if p.suffix in lang.extensions)
        sources = [p.read_bytes() for p in files]
        if not sources:
            print(f"{lang.id:<12} no fixtures")
            continue
        failed = sum(not isinstance(instrument(s, lang), Instrumented) for s in sources)  # also warms caches
        total, done, t0 = sum(map(len, sources)), 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            for s in sources:
                instrument(s, lang)
            done += total
        rate = done / (time.perf_counter() - t0) / 1e6
        print(f"{lang.id:<12} {len(sources):>5} {total / 1024:>8.1f} {rate:>8.2f} {failed:>6}")


if __name__ == "__main__":
    main()
