"""Every language's conformance programs and fixtures, traced by the docker backend in the
language's image, give exactly what the local backend gives: the same status, output and events
(timings aside). Only the languages named in CODEALCHEMY_DOCKER_LANGS (python,c,... or all) make
cases; without it the comparison is one skip that says so."""

from __future__ import annotations

import json
import os
import re
from functools import cache

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.testing import Tracer

from ..conftest import docker_problem, need_image

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not os.environ.get("CODEALCHEMY_DOCKER_LANGS"),
                                 reason="the docker fixture comparison runs when CODEALCHEMY_DOCKER_LANGS is set "
                                        "(python,c,... or all; scripts/docker.sh test sets it)")]


def cases() -> list[tuple[str, str]]:
    wanted = {x.strip() for x in os.environ.get("CODEALCHEMY_DOCKER_LANGS", "").split(",") if x.strip()}
    out = []
    for lang in plugins.languages():
        if "all" not in wanted and lang.id not in wanted:
            continue
        for sub in ("conformance", "fixtures"):
            folder = lang.instrumenter_dir / "tests" / sub
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                if path.suffix in lang.extensions:
                    out.append((lang.id, str(path)))
    return out


@cache
def tracers() -> tuple[Tracer, Tracer]:
    return Tracer("local"), Tracer("docker")


def comparable(traced) -> tuple:
    """Footer fields that do not hold timings, and the events with addresses (ASLR) masked."""
    footer = {k: v for k, v in traced.footer.items() if k in ("status", "exit_code", "signal", "events", "truncated")}
    events = [json.loads(re.sub(r"0x[0-9a-fA-F]{6,16}", "0x?", json.dumps(e, sort_keys=True))) for e in traced.events]
    return footer, events


@pytest.mark.skipif(docker_problem() is not None, reason=f"no Docker engine: {docker_problem()}")
@pytest.mark.parametrize("lang_id,path", cases(), ids=lambda v: v.rsplit("/", 1)[-1])
def test_docker_traces_as_local_does(lang_id, path):
    need_image(lang_id)
    local, docker = tracers()
    want = local.trace(path, language=lang_id)
    got = docker.trace(path, language=lang_id)
    (want_footer, want_events), (got_footer, got_events) = comparable(want), comparable(got)
    assert got_footer == want_footer, (got.footer, want.footer)
    if got_events != want_events:   # a program that is not deterministic (hash order...)?
        others = [comparable(local.trace(path, language=lang_id))[1] for _ in range(3)]
        if got_events in others:
            return
        if any(o != want_events for o in others):
            pytest.skip("the program is not deterministic: local runs differ among themselves (e.g. hash order)")
    if got_events != want_events:
        first = next((i for i, (a, b) in enumerate(zip(got_events, want_events, strict=False)) if a != b),
                     min(len(got_events), len(want_events)))
        pytest.fail(f"{lang_id} {path}: event {first} differs: docker {got_events[first:first + 2]} "
                    f"local {want_events[first:first + 2]} ({len(got_events)} vs {len(want_events)} events)")
