"""Compile servers (backends/servers.py), with every runtime's real server (Java, C#, ...).

What matters: a batch's compiles really go through the warm server, the results are the plain
compiler's (messages, repairs, traces), and a dead, killed or stuck server costs time only.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.backends.local import LocalBackend
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.tracing import trace_source

from ..conftest import uid_processes

UID_BASE, UID_SLOTS = 1_795_000, 8
LIMITS = Limits(timeout=60)

#: Per language with a server: a program that does not compile, and the compiler's message.
BROKEN = {
    "java": ("Broken.java", b"public class Broken {\n    public static void main(String[] args) {\n"
             b"        int x = \"text\";\n    }\n}\n",
             "Broken.java:3: error: incompatible types: String cannot be converted to int"),
    "csharp": ("Broken.cs", b"class Broken {\n    static void Main() {\n        int x = \"text\";\n    }\n}\n",
               "Program.cs(3,17): error CS0029: Cannot implicitly convert type `string' to `int'"),
}
SERVED = [lang.id for lang in plugins.languages() if lang.runtime.compile_server]

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


@pytest.fixture(params=SERVED)
def lang(request):
    found = plugins.languages().get(request.param)
    missing = found.runtime.missing_tools()
    if missing:
        pytest.skip(f"{found.id}: {', '.join(missing)} not installed")
    return found


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


def fixtures(lang, *names: str) -> list:
    folder = lang.instrumenter_dir / "tests" / "fixtures"
    if names:
        return [folder / f"{n}{lang.extensions[0]}" for n in names]
    return [p for p in sorted(folder.glob(f"*{lang.extensions[0]}")) if not p.stem.startswith("bench")]


def trace(backend, lang, path_or_name, data: bytes | None = None, **limits) -> list[dict]:
    name = str(path_or_name)
    data = path_or_name.read_bytes() if data is None else data
    return list(trace_source(data, lang, source=name, backend=backend, limits=LIMITS.merged(limits)))


def comparable(records: list[dict]) -> list[dict]:
    """The records without what differs from run to run (timings, CPU time, the notes)."""
    return [{k: v for k, v in r.items() if k not in ("timings", "cpu", "notes")} for r in records]


def test_every_server_has_a_broken_program_here():
    assert set(SERVED) <= set(BROKEN)


def test_a_batch_of_compiles_goes_through_one_server(backend, lang):
    b = backend()
    programs = fixtures(lang)[:5]
    footers = [trace(b, lang, p)[-1] for p in programs]
    # the first compile runs the plain compiler; every later one is answered by the server
    assert b.servers.tally()[lang.id] == len(programs) - 1
    # the compile that started it says how long that took (toolchain time, not the batch's)
    assert ["compile_server_start" in f["timings"] for f in footers] == [False, True, False, False, False]


def test_one_compile_starts_no_server(backend, lang):
    b = backend()
    trace(b, lang, *fixtures(lang, "loops"))
    assert b.servers.servers == {}


@pytest.mark.parametrize("case", ["repair", "definite", "exceptions", "broken"])
def test_the_server_gives_the_plain_compilers_results(backend, lang, case):
    name, data, message = BROKEN[lang.id]
    if case != "broken":
        (path,) = fixtures(lang, case)
        name, data = path.name, path.read_bytes()
    plain = trace(backend(compile_servers=False), lang, name, data)
    served = backend()
    trace(served, lang, *fixtures(lang, "loops"))   # starts the server
    got = trace(served, lang, name, data)
    assert served.servers.tally()[lang.id] == served.servers.compiles[lang.id] - 1 >= 1   # (repairs compile again)
    assert comparable(got) == comparable(plain)
    if case == "broken":
        assert got[-1]["status"] == "compile_error"
        assert got[-1]["reason"] == message
    if case == "repair":
        assert got[0]["repairs"]


def test_a_dead_server_costs_a_plain_compile_not_a_result(backend, lang):
    b = backend()
    (loops,) = fixtures(lang, "loops")
    trace(b, lang, loops)
    trace(b, lang, loops)
    server = b.servers.servers[lang.id]
    server.spawned.kill()   # as if it crashed: the stand-in finds no one to ask
    server.spawned.wait()   # a crashed server is gone; a signal alone may not have landed yet
    got = trace(b, lang, loops)
    assert got[-1]["status"] == "ok"
    assert comparable(got) == comparable(trace(backend(compile_servers=False), lang, loops))
    assert b.servers.servers[lang.id] is not server    # the next compile has a new one


def test_a_compile_that_times_out_takes_its_server_down(backend, lang):
    b = backend()
    (loops,) = fixtures(lang, "loops")
    trace(b, lang, loops)
    got = trace(b, lang, loops, compile_timeout=0.05)
    assert got[-1]["status"] == "timeout"
    assert lang.id not in b.servers.servers   # it may still have been busy with that program
    assert trace(b, lang, loops)[-1]["status"] == "ok"


def test_a_server_that_cannot_start_is_noted_and_skipped(backend, lang):
    b = backend()
    spec = lang.runtime.compile_server
    broken = {**spec, "command": ["/bin/sh", "-c", "echo no such compiler >&2; exit 3"]}
    lang = replace(lang, runtime=replace(lang.runtime, compile_server=broken))
    (loops,) = fixtures(lang, "loops")
    trace(b, lang, loops)
    got = trace(b, lang, loops)
    assert got[-1]["status"] == "ok"
    assert any(f"compile server for {lang.id} did not start (it exited: no such compiler)" in n
               for n in got[-1]["notes"])
