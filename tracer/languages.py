"""The language registry.

A language is two folders, `instrumenters/<id>/` (language.toml, queries, rewriter, prelude)
and `runtimes/<id>/` (runtime.toml, Dockerfile). The registry is filled by the `register_languages`
hook: the built-in implementation scans those folders, so the folders are the only list of
languages there is.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType

INSTRUMENTERS = Path(__file__).resolve().parent.parent / "instrumenters"
RUNTIMES = Path(__file__).resolve().parent.parent / "runtimes"


class UnknownLanguage(LookupError):
    pass


@dataclass(frozen=True)
class Runtime:
    """How to build and run a program (runtime.toml)."""

    source: str
    run: list[str]
    compile: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    limits: dict = field(default_factory=dict)
    toolchain: dict = field(default_factory=dict)
    diagnostic: str | None = None   # regex with (?P<line>) and (?P<message>) for compiler errors
    compile_server: dict | None = None   # a warm compiler for batches (backends/servers.py)
    dir: Path | None = None
    #: regexes with (?P<module>) for the error a missing library gives (status missing_dependency)
    missing_dependency: tuple[str, ...] = ()
    #: [driver]: what an entry point is, the file's functions, how a driver joins it (tracer/drivers.py)
    driver: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Runtime:
        data = tomllib.loads((folder / "runtime.toml").read_text(encoding="utf-8"))
        return cls(source=data["source"], run=list(data["run"]), compile=data.get("compile"),
                   env=dict(data.get("env", {})), limits=dict(data.get("limits", {})),
                   toolchain=dict(data.get("toolchain", {})), diagnostic=data.get("diagnostic"),
                   compile_server=data.get("compile_server"), dir=folder,
                   missing_dependency=_module_patterns(data.get("missing_dependency", ()), folder),
                   driver=dict(data.get("driver", {})))

    def missing_tools(self) -> list[str]:
        """Executables the runtime needs that are not on PATH."""
        return [t for t in self.toolchain.get("commands", {}) if shutil.which(t) is None]

    def install_hint(self, commands: list[str]) -> str:
        """The commands that install `commands` (runtime.toml [toolchain.commands])."""
        how = [self.toolchain.get("commands", {}).get(c, {}) for c in commands]
        debian = sorted({p for h in how for p in h.get("debian", [])})
        npm = sorted({p for h in how for p in h.get("npm", [])})
        return "; ".join(([f"apt-get install {' '.join(debian)}"] if debian else [])
                         + ([f"npm install -g {' '.join(npm)}"] if npm else []))


def _module_patterns(value: str | list, folder: Path) -> tuple[str, ...]:
    """runtime.toml's `missing_dependency`: one regex or a list, each with a `module` group."""
    patterns = (value,) if isinstance(value, str) else tuple(value)
    for p in patterns:
        if "module" not in re.compile(p).groupindex:
            raise ValueError(f"{folder / 'runtime.toml'}: missing_dependency {p!r} has no (?P<module>...) group")
    return patterns


@dataclass(frozen=True)
class Language:
    id: str
    name: str
    extensions: tuple[str, ...]
    grammar: str
    instrumenter_dir: Path
    runtime: Runtime
    aliases: tuple[str, ...] = ()
    shebangs: tuple[str, ...] = ()
    maturity: str = "experimental"
    version: str = "1"
    #: "strict": a tree-sitter parse error means the program is skipped; "tolerant": the
    #: grammar is weaker than the language (SQLite), so the program's own parser decides.
    syntax: str = "strict"

    @classmethod
    def from_folders(cls, instrumenter_dir: Path, runtime_dir: Path) -> Language:
        data = tomllib.loads((instrumenter_dir / "language.toml").read_text(encoding="utf-8"))
        return cls(id=data["id"], name=data.get("name", data["id"]),
                   extensions=tuple(data["extensions"]), grammar=data["grammar"],
                   instrumenter_dir=instrumenter_dir, runtime=Runtime.load(runtime_dir),
                   aliases=tuple(data.get("aliases", ())), shebangs=tuple(data.get("shebangs", ())),
                   maturity=data.get("maturity", "experimental"), version=str(data.get("version", "1")),
                   syntax=data.get("syntax", "strict"))

    @cached_property
    def rewriter(self) -> ModuleType:
        """The language's rewrite module (instrumenters/<id>/rewrite.py), loaded by path."""
        path = self.instrumenter_dir / "rewrite.py"
        name = f"codealchemy.instrumenters._{self.id}_rewrite"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def query(self, name: str) -> str:
        return (self.instrumenter_dir / f"{name}.scm").read_text(encoding="utf-8")

    @cached_property
    def prelude_files(self) -> dict[str, bytes]:
        folder = self.instrumenter_dir / "prelude"
        if not folder.is_dir():
            return {}
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def builtin_languages() -> list[Language]:
    return [Language.from_folders(d, RUNTIMES / d.name) for d in sorted(INSTRUMENTERS.iterdir())
            if (d / "language.toml").is_file() and (RUNTIMES / d.name / "runtime.toml").is_file()]


class Registry:
    def __init__(self, languages: list[Language] = ()):
        self._by_id: dict[str, Language] = {}
        for lang in languages:
            self.add(lang)

    def add(self, lang: Language) -> None:
        self._by_id[lang.id] = lang

    def __iter__(self):
        return iter(sorted(self._by_id.values(), key=lambda lang: lang.id))

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, name: str) -> Language:
        """By id or alias, case-insensitive."""
        key = name.lower()
        if key in self._by_id:
            return self._by_id[key]
        for lang in self._by_id.values():
            if key in lang.aliases:
                return lang
        raise UnknownLanguage(f"unknown language {name!r} (known: {', '.join(sorted(self._by_id))})")

    def for_path(self, path: str | Path, head: bytes = b"") -> Language:
        """By file extension, else by the shebang in `head` (the file's first bytes)."""
        suffix = Path(path).suffix.lower()
        for lang in self._by_id.values():
            if suffix and suffix in lang.extensions:
                return lang
        if head.startswith(b"#!"):
            line = head.split(b"\n", 1)[0].decode("utf-8", "replace")
            words = line[2:].split()
            if words and Path(words[0]).name == "env":
                words = [w for w in words[1:] if not w.startswith("-")]
            interpreter = Path(words[0]).name if words else ""
            for lang in self._by_id.values():
                if any(interpreter == s or interpreter.startswith(s) for s in lang.shebangs):
                    return lang
        raise UnknownLanguage(f"no language for {Path(path).name!r} (unknown extension {suffix or 'none'})")
