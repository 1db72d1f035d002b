"""Build the Rust prelude once as an rlib for runtime.toml's compile command (the [toolchain]
prepare step, run at set-up as the owner of the cache, e.g. root).

    python3 runtimes/rust/prelude_rlib.py [CACHE]     (default /var/cache/codealchemy/rust-prelude)

The entry is CACHE/KEY/ with lib__ca_prelude.rlib (the prelude compiled as a crate with the
compile command's own rustc argv), shim.rs (what the compile puts in the prelude's place: a
`pub use` of the rlib and the print macros, which must be defined in the program's crate to
shadow std's there) and a stamp (`rustc -vV`). KEY is what the compile command computes: sha256
of its rustc argv, one argument a line, and the prelude, so a changed prelude or changed flags
just miss until this runs again. Idempotent: an entry whose stamp names the current rustc is kept;
another is rebuilt, checked on a small program that uses the shim, and only then put in place.
The 4 most recent entries are kept (other checkouts may use older preludes).
Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRELUDE = HERE.parent.parent / "instrumenters" / "rust" / "prelude" / "codealchemy_prelude.rs"
CACHE = "/var/cache/codealchemy/rust-prelude"
CRATE = "__ca_prelude"
#: the prelude from this line on (the print macros) is copied into the shim
MACROS = "// --- output macros"
SHIM_HEAD = f"""\
// The prebuilt prelude (runtimes/rust/prelude_rlib.py): the rlib's items, and the print macros,
// which shadow std's only when defined in the program's own crate.
pub use ::{CRATE}::*;

"""
#: a program using what the probes use across the crate boundary (generic traits, W, each, exit)
CHECK = """\
#[macro_use] #[path = "codealchemy_prelude.rs"] mod __ca; fn main() {
    use crate::__ca::{__CaPrim as _, __CaDbg as _, __CaAny as _, __CaQ as _, __CaRet as _};
    struct Opaque;
    let f = crate::__ca::enter(1, 2, true);
    let n = 3u32;
    if let Some(mut e) = f.l(1) { (&&&crate::__ca::W(&n)).__ca_v("\\tn\\t", &mut e); }
    if let Some(mut e) = f.l(1) { (&&crate::__ca::W(&vec![n])).__ca_v("\\tv\\t", &mut e); }
    if let Some(mut e) = f.l(1) { (&&crate::__ca::W(&Opaque)).__ca_v("\\to\\t", &mut e); }
    let q: Option<u32> = Some(n).__ca_q(&f, 1, |q, e| (&&crate::__ca::W(q)).__ca_r(e));
    let sum: u32 = crate::__ca::each(q, &f, 1).sum::<u32>().__ca_ret(&f, 1, |r, e| (&&crate::__ca::W(r)).__ca_r(e));
    println!("ok {}", sum);
    drop(f);
    crate::__ca::exit(0)
}
"""


def compile_argv(source: str = "main.rs") -> list[str]:
    """The rustc argv of runtime.toml's compile command: the arguments after the script's $0."""
    compile = tomllib.loads((HERE / "runtime.toml").read_text(encoding="utf-8"))["compile"]
    if compile[:2] != ["/bin/sh", "-c"]:
        raise SystemExit("prelude_rlib.py: runtime.toml's compile is not the /bin/sh -c script it expects")
    return [a.replace("{source}", source) for a in compile[4:]]


def key(argv: list[str], prelude: bytes) -> str:
    return hashlib.sha256("".join(a + "\n" for a in argv).encode() + prelude).hexdigest()[:32]


def shim(prelude: str) -> str:
    at = prelude.find("\n" + MACROS)
    if at < 0:
        raise SystemExit(f"prelude_rlib.py: no {MACROS!r} line in {PRELUDE}")
    return SHIM_HEAD + prelude[at + 1:]


def toolchain_env() -> dict[str, str]:
    """runtime.toml's [env] over ours: the rustc the sandboxed compiles run."""
    env = dict(os.environ)
    for k, v in tomllib.loads((HERE / "runtime.toml").read_text(encoding="utf-8")).get("env", {}).items():
        env[k] = f"{v}:{env['PATH']}" if k == "PATH" and env.get("PATH") else str(v)
    return env


def build(entry: Path, argv: list[str], prelude: bytes, env: dict[str, str]) -> None:
    (entry / "codealchemy_prelude.rs").write_bytes(prelude)
    at = argv.index("-o")
    flags = [a for a in argv[:at] + argv[at + 2:] if a != "main.rs"]
    # the relative name, as the compile in /work names it (panic locations, if any, stay the same)
    subprocess.run([*flags, "--crate-type", "rlib", "--crate-name", CRATE, "-o", f"lib{CRATE}.rlib",
                    "codealchemy_prelude.rs"], cwd=entry, env=env, check=True)
    (entry / "shim.rs").write_text(shim(prelude.decode("utf-8")), encoding="utf-8")
    check = entry / "check"
    check.mkdir()
    (check / "codealchemy_prelude.rs").write_bytes((entry / "shim.rs").read_bytes())
    (check / "main.rs").write_text(CHECK, encoding="utf-8")
    subprocess.run([*argv, "--extern", f"{CRATE}={entry / f'lib{CRATE}.rlib'}"], cwd=check, env=env, check=True)
    out = subprocess.run(["./main"], cwd=check, env=env, capture_output=True, check=True).stdout
    if out != b"ok 3\n":
        raise SystemExit(f"prelude_rlib.py: the check program printed {out!r}")
    shutil.rmtree(check)


def main() -> int:
    cache = Path(sys.argv[1] if len(sys.argv) > 1 else CACHE)
    argv, prelude, env = compile_argv(), PRELUDE.read_bytes(), toolchain_env()
    version = subprocess.run([argv[0], "-vV"], env=env, capture_output=True, check=True).stdout
    entry = cache / key(argv, prelude)
    cache.mkdir(parents=True, exist_ok=True)
    stamp = entry / "stamp"
    if stamp.is_file() and stamp.read_bytes() == version and (entry / f"lib{CRATE}.rlib").is_file():
        os.utime(entry)
    else:
        tmp = Path(tempfile.mkdtemp(prefix=".build.", dir=cache))
        try:
            build(tmp, argv, prelude, env)
            (tmp / "stamp").write_bytes(version)   # last: it marks a complete, checked entry
            for path in [tmp, *tmp.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            shutil.rmtree(entry, ignore_errors=True)
            tmp.rename(entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    cache.chmod(0o755)
    entries = sorted((p for p in cache.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime,
                     reverse=True)
    for old in entries[4:]:
        shutil.rmtree(old, ignore_errors=True)
    print(f"Rust prelude rlib: {entry}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
