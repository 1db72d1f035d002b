"""Compile reuse: mean compile-phase seconds with each language's reuse on vs off, in one run.

Each fixture of a language (instrumenters/<id>/tests/fixtures) is instrumented and compiled
through the real backend as a traced run, once with reuse and once without, alternating so both
see the same machine load; the ratio is on/off. It also checks that both runs gave the same
result (compile status, program output and the raw trace bytes): reuse must not change them.

    python benchmarks/compile_reuse.py [--languages cpp] [--repeat 1] [--backend local]

Adding a language: one entry in REUSE, with a function that turns a request into the same
request without the reuse (`env_off`, `no_server` for a compile server, `cold_go_cache`).
Fixtures whose traced compile fails (the repair fixtures: the probes break it on purpose) are
reported on their own line (the C++ and Rust reuse redoes a failed compile without it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

from codealchemy.tracer import plugins
from codealchemy.tracer.backends import RunRequest
from codealchemy.tracer.instrument import Instrumented, instrument
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.tracing import request_for

#: runtime.toml compile commands that reuse something skip it when this is "0" in their environment
OFF_ENV = "CODEALCHEMY_COMPILE_REUSE"


def env_off(request: RunRequest) -> RunRequest:
    return replace(request, env={**request.env, OFF_ENV: "0"})


def no_server(request: RunRequest) -> RunRequest:
    return replace(request, compile_server=None)


def cold_go_cache(request: RunRequest) -> RunRequest:
    # the compile command falls back to a per-run cache when GOCACHE does not exist
    return replace(request, env={**request.env, "GOCACHE": "/nonexistent"})


@dataclass(frozen=True)
class Reuse:
    what: str
    off: Callable[[RunRequest], RunRequest] = env_off
    most: int | None = None   # fixtures measured at most (when "off" is very slow)


#: language id -> what it reuses and how to switch it off
REUSE = {
    "cpp": Reuse("precompiled prelude (runtimes/cpp/pch.sh, /var/cache/codealchemy/cpp-pch)"),
    "rust": Reuse("prelude rlib (runtimes/rust/prelude_rlib.py, /var/cache/codealchemy/rust-prelude)"),
    "java": Reuse("compile server: one warm javac (runtimes/java/CompileServer.java)", no_server),
    "csharp": Reuse("compile server: one warm mcs (runtimes/csharp/CompileServer.cs)", no_server),
    "go": Reuse("build cache warmed at set-up (runtimes/go/warm-cache.sh)", cold_go_cache, most=3),
}


def fixtures(lang) -> list:
    folder = lang.instrumenter_dir / "tests" / "fixtures"
    return sorted(p for p in folder.iterdir() if p.suffix in lang.extensions)


def outcome(result) -> tuple:
    run = result.run
    return (result.compile.status, run and (run.status, run.exit_code, run.stdout, run.stderr), result.trace)


def measure(lang_id: str, backend, repeat: int) -> dict:
    lang = plugins.languages().get(lang_id)
    reuse = REUSE[lang_id]
    limits = Limits(timeout=30)
    times = {True: {}, False: {}}   # reuse on? -> {fixture: [seconds]}
    same = ok = 0
    starts = 0.0   # seconds starting a compile server (once per backend; not in the compile phase)
    failed = set()
    for path in fixtures(lang)[:reuse.most]:
        inst = instrument(path.read_text(encoding="utf-8"), lang, None)
        if not isinstance(inst, Instrumented):
            continue
        request = request_for(lang, inst.code, inst.source_name, inst.files, limits)
        results = {}
        for _ in range(repeat):
            for on in (True, False):
                result = backend.run(request if on else reuse.off(request))
                times[on].setdefault(path.name, []).append(result.compile.wall)
                starts += result.timings.get("compile_server_start", 0.0)
                results[on] = result
        if results[True].compile.status != "ok":
            failed.add(path.name)
        else:
            ok += 1
        same += outcome(results[True]) == outcome(results[False])

    def mean(on: bool, names) -> float:
        return statistics.mean(statistics.mean(times[on][n]) for n in names) if names else float("nan")

    good = [n for n in times[True] if n not in failed]
    return {"what": reuse.what, "ok": ok, "on": mean(True, good), "off": mean(False, good),
            "failed": len(failed), "failed_on": mean(True, failed), "failed_off": mean(False, failed),
            "same": same, "total": len(times[True]), "starts": starts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--languages", default=",".join(REUSE), help=f"comma-separated, of: {', '.join(REUSE)}")
    ap.add_argument("--repeat", type=int, default=1, help="compiles per fixture and setting")
    ap.add_argument("--backend", default="local")
    args = ap.parse_args()
    backend = plugins.backends()[args.backend]()
    print(f"{'language':9} {'fixtures':>8} {'reuse on':>9} {'reuse off':>9} {'on/off':>7}  same result")
    status = 0
    for lang_id in [x.strip() for x in args.languages.split(",") if x.strip()]:
        if lang_id not in REUSE:
            print(f"{lang_id}: no compile reuse to measure (REUSE has {', '.join(REUSE)})", file=sys.stderr)
            status = 2
            continue
        m = measure(lang_id, backend, args.repeat)
        print(f"{lang_id:9} {m['ok']:8d} {m['on']:8.3f}s {m['off']:8.3f}s {m['on'] / m['off']:7.2f}  "
              f"{m['same']}/{m['total']}   ({m['what']})")
        if m["starts"]:
            print(f"{'':9} plus {m['starts']:.3f}s once, starting the compile server (the first compile is plain)")
        if m["failed"]:
            print(f"{'':9} {m['failed']:8d} {m['failed_on']:8.3f}s {m['failed_off']:8.3f}s "
                  f"{m['failed_on'] / m['failed_off']:7.2f}  (traced compile fails: the repair fixtures)")
        if m["same"] != m["total"]:
            status = 1
    print(f"compile phase wall seconds, mean over fixtures, {args.repeat} compile(s) each; backend {args.backend}")
    return status


if __name__ == "__main__":
    sys.exit(main())
