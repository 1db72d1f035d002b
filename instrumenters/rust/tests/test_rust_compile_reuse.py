"""Rust compile reuse: the prebuilt prelude rlib (runtimes/rust/runtime.toml, runtimes/rust/prelude_rlib.py).

The rlib must be linked when its cache is there (else the reuse silently stops paying), and must
never change a result: no cache, an rlib rustc rejects (another rustc, garbage) or
CODEALCHEMY_COMPILE_REUSE=0 give the plain binary; with the rlib the trace, output, exit code
and panics are the same bytes, and a failed compile gives the plain diagnostics.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, instrument
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.tracing import request_for, trace_source

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
RUNTIME = HERE.parent.parent.parent / "runtimes" / "rust"
CACHE = "/var/cache/codealchemy/rust-prelude"
PRELUDE = "codealchemy_prelude.rs"
#: the crate name of the rlib, in the symbols of a binary that links it
LINKED = b"__ca_prelude"
RUSTC = shutil.which("rustc") or shutil.which("rustc", path="/root/.cargo/bin")

pytestmark = pytest.mark.skipif(RUSTC is None, reason="rustc is not installed")


def lang():
    return plugins.languages().get("rust")


def prepare_module():
    spec = importlib.util.spec_from_file_location("prelude_rlib", RUNTIME / "prelude_rlib.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def key() -> str:
    """The entry the compile command looks for, as the prepare step names it."""
    m = prepare_module()
    return m.key(m.compile_argv(), lang().prelude_files[PRELUDE])


def command(cache: str | Path = CACHE) -> list[str]:
    """runtime.toml's compile argv for main.rs, with another cache root if asked."""
    argv = [a.replace("{source}", "main.rs") for a in lang().runtime.compile]
    argv[2] = argv[2].replace(CACHE, str(cache))
    assert argv[2] != lang().runtime.compile[2] or str(cache) == CACHE
    return argv


def instrumented(name: str) -> Instrumented:
    inst = instrument((FIXTURES / name).read_text(encoding="utf-8"), lang(), None)
    assert isinstance(inst, Instrumented), inst
    return inst


def toolchain_env(extra: dict | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CODEALCHEMY_COMPILE_REUSE"}
    for k, v in lang().runtime.env.items():
        env[k] = f"{v}:{env.get('PATH', '')}" if k == "PATH" else v
    return {**env, **(extra or {})}


def host_compile(folder: Path, code: str, argv: list[str], env: dict | None = None):
    """Compile in `folder` outside the sandbox: (exit status, stderr, binary or None, files left)."""
    folder.mkdir()
    for name, data in lang().prelude_files.items():
        (folder / name).write_bytes(data)
    (folder / "main.rs").write_text(code, encoding="utf-8")
    proc = subprocess.run(argv, cwd=folder, env=toolchain_env(env), capture_output=True, timeout=300)
    binary = folder / "main"
    assert (folder / PRELUDE).read_bytes() == lang().prelude_files[PRELUDE]   # put back
    return (proc.returncode, proc.stderr, binary.read_bytes() if binary.exists() else None,
            sorted(p.name for p in folder.iterdir()))


@pytest.fixture(scope="module")
def own_cache(tmp_path_factory) -> Path:
    """A cache built by prelude_rlib.py, the set-up's prepare step, into a folder of the test's own."""
    root = tmp_path_factory.mktemp("rlib")
    subprocess.run(["python3", str(RUNTIME / "prelude_rlib.py"), str(root)], check=True, capture_output=True,
                   timeout=600)
    return root


def test_prepare_step_builds_the_entry_the_compile_looks_for_and_is_idempotent(own_cache):
    rlib = own_cache / key() / "lib__ca_prelude.rlib"
    assert rlib.is_file() and (own_cache / key() / "shim.rs").is_file(), sorted(own_cache.iterdir())
    before = rlib.stat().st_mtime_ns
    subprocess.run(["python3", str(RUNTIME / "prelude_rlib.py"), str(own_cache)], check=True, capture_output=True,
                   timeout=600)
    assert rlib.stat().st_mtime_ns == before   # kept, not rebuilt


def test_the_shim_holds_the_print_macros():
    shim = prepare_module().shim(lang().prelude_files[PRELUDE].decode())
    for name in ("print", "println", "eprint", "eprintln"):
        assert f"macro_rules! {name} {{" in shim
    assert "fn enter(" not in shim   # the rest comes from the rlib


def test_rlib_is_used_in_the_sandbox():
    """The set-up's cache, as the real compile sees it. Fails where the set-up was not rerun
    after the prelude or the flags changed: run `python3 runtimes/rust/prelude_rlib.py`
    (scripts/setup.sh does)."""
    assert Path(CACHE, key(), "lib__ca_prelude.rlib").is_file(), \
        f"no prelude rlib for this prelude in {CACHE}: run `python3 runtimes/rust/prelude_rlib.py`"
    inst = instrumented("generics.rs")
    request = request_for(lang(), inst.code, inst.source_name, inst.files, Limits(timeout=60))
    request.run = ["sh", "-c", "grep -c __ca_prelude main; ls -a . /tmp; cat codealchemy_prelude.rs"]
    request.trace = False
    result = plugins.backends()["local"]().run(request)
    assert result.compile.ok, result.compile.stderr.decode()
    out = result.run.stdout.decode()
    count, listing = out.split("\n", 1)
    assert int(count) > 0, "the binary does not link the prelude rlib"
    assert listing.startswith(".:\n.\n..\ncodealchemy_prelude.rs\nmain\nmain.rs\n\n/tmp:\n.\n..\n"), listing
    assert listing.endswith(lang().prelude_files[PRELUDE].decode())   # the full prelude is back


@pytest.mark.parametrize("name", ["generics.rs", "traits.rs", "panic_catch.rs"])
def test_plain_binary_without_cache_with_a_rejected_one_or_reuse_off(own_cache, tmp_path, name):
    code = instrumented(name).code
    garbage = tmp_path / "garbage"
    shutil.copytree(own_cache / key(), garbage / key())
    (garbage / key() / "lib__ca_prelude.rlib").write_bytes(b"not an rlib\n")
    runs = {"rlib": host_compile(tmp_path / "rlib", code, command(own_cache)),
            "off": host_compile(tmp_path / "off", code, command(own_cache), {"CODEALCHEMY_COMPILE_REUSE": "0"}),
            "missing": host_compile(tmp_path / "missing", code, command(tmp_path / "nothing-here")),
            "garbage": host_compile(tmp_path / "gar", code, command(garbage))}
    if any(Path("/root/.rustup/toolchains").glob("nightly-*")):
        other = tmp_path / "other"   # under the right key, an rlib of another rustc (E0514)
        shutil.copytree(own_cache / key(), other / key())
        built = subprocess.run([*prepare_module().compile_argv()[:-3], "--crate-type", "rlib", "--crate-name",
                                "__ca_prelude", "-o", "lib__ca_prelude.rlib", PRELUDE], cwd=other / key(),
                               env=toolchain_env({"RUSTUP_TOOLCHAIN": "nightly"}), capture_output=True, timeout=300)
        if built.returncode == 0:
            runs["other rustc"] = host_compile(tmp_path / "oth", code, command(other))
    for how, (status, stderr, binary, left) in runs.items():
        assert status == 0 and binary, (how, stderr.decode())
        assert stderr == b"" and left == [PRELUDE, "main", "main.rs"], (how, stderr, left)
        assert (LINKED in binary) == (how == "rlib"), how
        if how != "rlib":
            assert binary == runs["off"][2], f"{how}: another binary than the plain compile"


def test_failed_compile_gives_the_plain_diagnostics(own_cache, tmp_path):
    # an error whose note points into the prelude (the shim would name the rlib instead)
    code = ('#[macro_use] #[path = "codealchemy_prelude.rs"] mod __ca; fn main() {\n'
            '    let f = crate::__ca::enter(1, 2);\n}\n')
    reuse = host_compile(tmp_path / "rlib", code, command(own_cache))
    plain = host_compile(tmp_path / "off", code, command(own_cache), {"CODEALCHEMY_COMPILE_REUSE": "0"})
    assert reuse[0] != 0 and reuse[0] == plain[0]
    assert b"--> codealchemy_prelude.rs:" in plain[1]
    assert reuse[1] == plain[1]
    assert reuse[3] == plain[3] == [PRELUDE, "main.rs"]


SAME = ["generics.rs", "traits.rs", "no_debug.rs", "enums_match.rs", "iterators.rs", "rc_refcell.rs",
        "main_result.rs", "overflow.rs", "panic_uncaught.rs", "panic_catch.rs", "process_exit.rs",
        "threads.rs", "stderr_output.rs", "fake_trace_output.rs"]


@pytest.mark.parametrize("name", SAME)
def test_same_run_with_and_without_reuse_in_the_sandbox(name):
    """Trace, output, exit code, panic messages: the same bytes with the rlib and without."""
    inst = instrumented(name)
    backend = plugins.backends()["local"]()
    request = request_for(lang(), inst.code, inst.source_name, inst.files, Limits(timeout=60))
    on = backend.run(request)
    off = backend.run(replace(request, env={**request.env, "CODEALCHEMY_COMPILE_REUSE": "0"}))
    assert on.compile.ok and off.compile.ok, (on.compile.stderr, off.compile.stderr)
    assert on.compile.stderr == off.compile.stderr == b""
    assert on.trace and on.trace == off.trace
    assert (on.run.status, on.run.exit_code, on.run.stdout, on.run.stderr) == \
        (off.run.status, off.run.exit_code, off.run.stdout, off.run.stderr)


def records(monkeypatch, name: str, reuse: bool) -> list[dict]:
    rust = lang()
    with monkeypatch.context() as m:
        if not reuse:   # the language's env: what request_for gives every phase of the run
            m.setitem(rust.runtime.env, "CODEALCHEMY_COMPILE_REUSE", "0")
        out = list(trace_source((FIXTURES / name).read_bytes(), rust, source=name,
                                backend=plugins.backends()["local"](), limits=Limits(timeout=60)))
    out[-1] = {k: v for k, v in out[-1].items() if k not in ("timings", "cpu")}
    return out


@pytest.mark.parametrize("name", ["repair_for_move.rs", "repair_mut_borrow.rs"])
def test_repair_loop_sees_the_same_diagnostics(monkeypatch, name):
    """The repair loop reads rustc's messages: the same repairs and the same trace either way."""
    on, off = records(monkeypatch, name, True), records(monkeypatch, name, False)
    assert on[0].get("repairs") and on == off
