"""Compile servers (backends/servers.py), with the real javac server of runtimes/java.

What matters: a batch's compiles really go through the warm server, the results are the plain
compiler's (messages, repairs, traces), and a dead, killed or stuck server costs time only.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.backends.local import LocalBackend
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.tracing import trace_source

from ..conftest import uid_processes

FIXTURES = Path(__file__).resolve().parents[2] / "instrumenters" / "java" / "tests" / "fixtures"
UID_BASE, UID_SLOTS = 1_795_000, 8
LIMITS = Limits(timeout=60)

TYPE_ERROR = b"""public class Broken {
    public static void main(String[] args) {
        int x = "text";
        System.out.println(x);
    }
}
"""

pytestmark = pytest.mark.skipif(shutil.which("javac") is None or shutil.which("bwrap") is None,
                                reason="needs javac and bubblewrap")


@pytest.fixture
def java():
    return plugins.languages().get("java")


@pytest.fixture
def backend():
    made = []

    def make(**kw) -> LocalBackend:
        made.append(LocalBackend(uid=UID_BASE, uids=UID_SLOTS, **kw))
        return made[-1]

    yield make
    for b in made:
        if b.servers:
            b.servers.close()
    assert uid_processes(UID_BASE, UID_SLOTS) == [], "a compile server outlived its backend"


def trace(backend, java, data: bytes, name: str = "Main.java", **limits) -> list[dict]:
    return list(trace_source(data, java, source=name, backend=backend, limits=LIMITS.merged(limits)))


def comparable(records: list[dict]) -> list[dict]:
    """The records without what differs from run to run (timings, the server's notes)."""
    out = []
    for r in records:
        r = {k: v for k, v in r.items() if k not in ("timings", "cpu", "notes")}
        out.append(r)
    return out


def test_a_batch_of_compiles_goes_through_one_server(backend, java):
    b = backend()
    programs = [p for p in sorted(FIXTURES.glob("*.java")) if not p.stem.startswith("bench")][:5]
    for p in programs:
        assert trace(b, java, p.read_bytes(), p.name)[-1]["status"] == "ok", p.name
    # the first compile runs the plain javac; every later one is answered by the server
    assert b.servers.tally()["java"] == len(programs) - 1


def test_one_compile_starts_no_server(backend, java):
    b = backend()
    trace(b, java, (FIXTURES / "loops.java").read_bytes(), "loops.java")
    assert b.servers.servers == {}


@pytest.mark.parametrize("name", ["repair.java", "definite.java", "nested_classes.java", "Broken.java"])
def test_the_server_gives_the_plain_compilers_results(backend, java, name):
    data = TYPE_ERROR if name == "Broken.java" else (FIXTURES / name).read_bytes()
    plain = trace(backend(compile_servers=False), java, data, name)
    served = backend()
    trace(served, java, (FIXTURES / "loops.java").read_bytes(), "loops.java")   # starts the server
    got = trace(served, java, data, name)
    assert served.servers.tally()["java"] == served.servers.compiles["java"] - 1 >= 1   # (repairs compile again)
    assert comparable(got) == comparable(plain)
    if name == "Broken.java":
        assert got[-1]["status"] == "compile_error"
        assert "Broken.java:3: error: incompatible types: String cannot be converted to int" in got[-1]["stderr"]


def test_a_dead_server_costs_a_plain_compile_not_a_result(backend, java):
    b = backend()
    loops = (FIXTURES / "loops.java").read_bytes()
    trace(b, java, loops, "loops.java")
    trace(b, java, loops, "loops.java")
    server = b.servers.servers["java"]
    server.spawned.kill()   # as if it crashed: the stand-in finds no one to ask
    got = trace(b, java, loops, "loops.java")
    assert got[-1]["status"] == "ok"
    assert comparable(got) == comparable(trace(backend(compile_servers=False), java, loops, "loops.java"))
    assert b.servers.servers["java"] is not server    # the next compile has a new one


def test_a_compile_that_times_out_takes_its_server_down(backend, java):
    b = backend()
    loops = (FIXTURES / "loops.java").read_bytes()
    trace(b, java, loops, "loops.java")
    got = trace(b, java, loops, "loops.java", compile_timeout=0.05)
    assert got[-1]["status"] == "timeout"
    assert "java" not in b.servers.servers   # it may still have been busy with that program
    assert trace(b, java, loops, "loops.java")[-1]["status"] == "ok"


def test_a_server_that_cannot_start_is_noted_and_skipped(backend, java):
    b = backend()
    spec = java.runtime.compile_server
    broken = {**spec, "command": ["java", "-XX:+NoSuchOption", *spec["command"][1:]]}
    java = replace(java, runtime=replace(java.runtime, compile_server=broken))
    loops = (FIXTURES / "loops.java").read_bytes()
    trace(b, java, loops, "loops.java")
    got = trace(b, java, loops, "loops.java")
    assert got[-1]["status"] == "ok"
    assert any("compile server for java did not start" in n for n in got[-1]["notes"])
