"""C++ compile reuse: the precompiled prelude (runtimes/cpp/runtime.toml, runtimes/cpp/pch.sh).

The reuse must be used when its cache is there (else it silently stops paying), and must never
change a result: no cache, a cache gcc rejects, or CODEALCHEMY_COMPILE_REUSE=0 give the same
binary, the same trace, and on a failed compile the same diagnostics.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, instrument
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.tracing import request_for
from codealchemy.tracer.wire import Decoder

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
RUNTIME = HERE.parent.parent.parent / "runtimes" / "cpp"
CACHE = "/var/cache/codealchemy/cpp-pch"
PRELUDE = "_codealchemy.hpp"

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")


def lang():
    return plugins.languages().get("cpp")


def flags() -> str:
    return re.search(r"^F='(.*)'$", lang().runtime.compile[2], re.M).group(1)


def key() -> str:
    """The cache key the compile command computes: sha256 of F, a newline and the prelude."""
    return hashlib.sha256(flags().encode() + b"\n" + lang().prelude_files[PRELUDE]).hexdigest()[:32]


def command(cache: str | Path = CACHE, gxx: str = "g++") -> list[str]:
    """runtime.toml's compile argv, with another cache root or g++ options if asked."""
    script = lang().runtime.compile[2].replace(CACHE, str(cache)).replace("set -- g++", f"set -- {gxx}")
    assert script != lang().runtime.compile[2] or (str(cache) == CACHE and gxx == "g++")
    return ["/bin/sh", "-c", script, "sh", "main.cpp"]


def instrumented(name: str) -> Instrumented:
    inst = instrument((FIXTURES / name).read_text(encoding="utf-8"), lang(), None)
    assert isinstance(inst, Instrumented), inst
    return inst


def host_compile(folder: Path, code: str, argv: list[str], env: dict | None = None):
    """Compile in `folder` outside the sandbox: (exit status, stderr, binary or None, files left)."""
    folder.mkdir()
    for name, data in lang().prelude_files.items():
        (folder / name).write_bytes(data)
    (folder / "main.cpp").write_text(code, encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if k != "CODEALCHEMY_COMPILE_REUSE"}, **(env or {})}
    proc = subprocess.run(argv, cwd=folder, env=env, capture_output=True, timeout=120)
    binary = folder / "main"
    return (proc.returncode, proc.stderr, binary.read_bytes() if binary.exists() else None,
            sorted(p.name for p in folder.iterdir()))


@pytest.fixture(scope="module")
def own_cache(tmp_path_factory) -> Path:
    """A cache built by pch.sh, the set-up's prepare step, into a folder of the test's own."""
    root = tmp_path_factory.mktemp("pch")
    subprocess.run(["sh", str(RUNTIME / "pch.sh"), str(root)], check=True, capture_output=True, timeout=300)
    return root


def test_prepare_step_builds_the_entry_the_compile_looks_for_and_is_idempotent(own_cache):
    gch = own_cache / key() / f"{PRELUDE}.gch"
    assert gch.is_file(), sorted(p.name for p in own_cache.iterdir())
    before = gch.stat().st_mtime_ns
    subprocess.run(["sh", str(RUNTIME / "pch.sh"), str(own_cache)], check=True, capture_output=True, timeout=300)
    assert gch.stat().st_mtime_ns == before   # kept, not rebuilt


def test_pch_is_used_and_leaves_nothing_behind(own_cache, tmp_path):
    # g++ -H prints "! NAME.gch" for a precompiled header it uses, ". NAME" for a header it parses
    status, stderr, binary, left = host_compile(tmp_path / "a", instrumented("basics.cpp").code,
                                                command(own_cache, "g++ -H"))
    assert status == 0 and binary, stderr.decode()
    assert f"! {PRELUDE}.gch" in stderr.decode()
    assert left == [PRELUDE, "main", "main.cpp"]   # the .gch link is gone again


def test_pch_is_used_in_the_sandbox():
    """The set-up's cache, as the real compile sees it. Fails where the set-up was not rerun
    after the prelude changed: run `sh runtimes/cpp/pch.sh` (scripts/setup.sh does)."""
    assert Path(CACHE, key(), f"{PRELUDE}.gch").is_file(), \
        f"no precompiled prelude for this prelude in {CACHE}: run `sh runtimes/cpp/pch.sh`"
    inst = instrumented("basics.cpp")
    request = request_for(lang(), inst.code, inst.source_name, inst.files, Limits(timeout=30))
    request.compile = [a.replace("set -- g++", "set -- g++ -H") for a in request.compile]
    request.run, request.trace = ["sh", "-c", "ls -a . /tmp"], False
    result = plugins.backends()["local"]().run(request)
    assert result.compile.ok, result.compile.stderr.decode()
    assert f"! {PRELUDE}.gch" in result.compile.stderr.decode()
    listing = result.run.stdout.decode()
    assert ".gch" not in listing and "ca-pch" not in listing, listing   # the program's directory is as without


@pytest.mark.parametrize("name", ["containers.cpp", "exceptions.cpp", "templates.cpp"])
def test_same_binary_with_pch_without_and_with_a_rejected_one(own_cache, tmp_path, name):
    code = instrumented(name).code
    rejected = tmp_path / "rejected"   # under the right key, a PCH gcc does not take (other -std)
    (rejected / key()).mkdir(parents=True)
    (rejected / key() / PRELUDE).write_bytes(lang().prelude_files[PRELUDE])
    subprocess.run(["g++", *flags().replace("gnu++17", "gnu++20").split(), "-x", "c++-header", "-o",
                    f"{PRELUDE}.gch", PRELUDE], cwd=rejected / key(), check=True, timeout=120)
    garbage = tmp_path / "garbage"
    (garbage / key()).mkdir(parents=True)
    (garbage / key() / f"{PRELUDE}.gch").write_bytes(b"not a precompiled header\n")
    runs = {"pch": host_compile(tmp_path / "pch", code, command(own_cache)),
            "off": host_compile(tmp_path / "off", code, command(own_cache), {"CODEALCHEMY_COMPILE_REUSE": "0"}),
            "missing": host_compile(tmp_path / "missing", code, command(tmp_path / "nothing-here")),
            "rejected": host_compile(tmp_path / "rej", code, command(rejected)),
            "garbage": host_compile(tmp_path / "gar", code, command(garbage))}
    for how, (status, stderr, binary, _) in runs.items():
        assert status == 0 and binary, (how, stderr.decode())
        assert binary == runs["pch"][2], f"{how}: another binary than with the PCH"


def test_failed_compile_gives_the_plain_diagnostics(own_cache, tmp_path):
    # an error whose notes point into the prelude: with a PCH gcc would drop "In file included from"
    code = '#include "_codealchemy.hpp"\n#line 1\nint main() { __ca::__v("x"); return 0; }\n'
    with_pch = host_compile(tmp_path / "pch", code, command(own_cache))
    plain = host_compile(tmp_path / "off", code, command(own_cache), {"CODEALCHEMY_COMPILE_REUSE": "0"})
    assert with_pch[0] != 0 and with_pch[0] == plain[0]
    assert b"In file included from main.cpp:1" in plain[1]
    assert with_pch[1] == plain[1]
    assert with_pch[3] == plain[3] == [PRELUDE, "main.cpp"]


def test_same_trace_with_and_without_reuse_in_the_sandbox():
    inst = instrumented("exceptions.cpp")
    backend = plugins.backends()["local"]()
    request = request_for(lang(), inst.code, inst.source_name, inst.files, Limits(timeout=30))
    on = backend.run(request)
    request.env = {**request.env, "CODEALCHEMY_COMPILE_REUSE": "0"}
    off = backend.run(request)
    assert on.compile.ok and off.compile.ok
    assert on.trace == off.trace
    assert (on.run.stdout, on.run.stderr, on.run.exit_code) == (off.run.stdout, off.run.stderr, off.run.exit_code)
    events = list(Decoder(inst.probe_map(), max_events=100000, max_value=200).feed(on.trace))
    assert any(e["kind"] == "exception" for e in events)
