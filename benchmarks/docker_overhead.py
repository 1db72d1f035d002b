"""Per-run overhead of the `docker` backend (warm containers) against a `docker run` per file and
the `local` backend, for a trivial program.

    python benchmarks/docker_overhead.py [--runs 50] [--language python] [--trace]

Needs a Docker engine, root and the language's image (`trace runtimes build python`). For each
trivial program (/bin/true, python3 -c pass) it prints the medians over --runs (at least 50) of:
a bare subprocess on the host; `DockerBackend().run(...)` on a warm container (write the files,
run the phase through the container's agent with rlimits, a uid drop and capped output, kill
what is left, empty the work dirs); `docker run --rm` of the image per run with the same
isolation flags (network none, read-only root, cap-drop ALL, no-new-privileges, limits, tmpfs
/work), through the docker SDK; and `LocalBackend().run(...)` (bubblewrap). Runs alternate between
the variants so that load from elsewhere hits them alike. Target: docker backend overhead
<= 30 ms a run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from codealchemy.tracer.backends import RunRequest
from codealchemy.tracer.limits import Limits

PROGRAMS = {"/bin/true": ["/bin/true"], "python3 -c pass": ["/usr/bin/python3", "-c", "pass"]}


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=50, help="runs per variant (at least 50)")
    ap.add_argument("--language", default="python", help="whose image runs the programs (it must have python3)")
    ap.add_argument("--trace", action="store_true", help="open the trace channel too (as traced runs do)")
    ap.add_argument("--no-local", action="store_true", help="skip the local backend (no bubblewrap here)")
    args = ap.parse_args()
    runs = max(args.runs, 50)

    from codealchemy.tracer import images
    from codealchemy.tracer.backends.docker import DockerBackend

    docker_backend = DockerBackend()
    local = None
    if not args.no_local:
        from codealchemy.tracer.backends.local import LocalBackend

        local = LocalBackend()
    client = docker_backend.client
    image = images.tag(args.language)
    limits = Limits(timeout=10)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (wall times rise with it); image {image}")
    print(f"{'program':<16} {'bare ms':>8} {'docker ms':>10} {'overhead':>9} {'docker run ms':>14} {'overhead':>9}"
          f" {'local ms':>9} {'overhead':>9}  (median of {runs})")
    for label, argv in PROGRAMS.items():
        req = RunRequest(files={"main.txt": b"x"}, run=argv, limits=limits, trace=args.trace, language=args.language)
        first = docker_backend.run(req)    # starts the warm container
        assert first.run.status == "ok", first.run

        def docker_run(argv=argv):
            client.containers.run(image, argv, remove=True, network_mode="none", read_only=True, cap_drop=["ALL"],
                                  security_opt=["no-new-privileges"], pids_limit=80, mem_limit=limits.memory,
                                  user="1870000:1870000", tmpfs={"/work": "rw,exec,size=64m"}, working_dir="/work",
                                  log_config={"type": "none"}, stdout=True, stderr=True)

        bare, warm, per_file, loc = [], [], [], []
        for _ in range(runs):
            bare.append(timed(lambda: subprocess.run(argv, capture_output=True, check=True)))   # noqa: B023
            warm.append(timed(lambda: docker_backend.run(req)))   # noqa: B023
            per_file.append(timed(docker_run))
            if local is not None:
                loc.append(timed(lambda: local.run(req)))   # noqa: B023
        b, w, p = (statistics.median(v) for v in (bare, warm, per_file))
        lo = statistics.median(loc) if loc else float("nan")
        print(f"{label:<16} {b:8.2f} {w:10.2f} {w - b:9.2f} {p:14.2f} {p - b:9.2f} {lo:9.2f} {lo - b:9.2f}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    docker_backend.close()


if __name__ == "__main__":
    main()
