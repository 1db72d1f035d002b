import tomllib

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.languages import INSTRUMENTERS, RUNTIMES, UnknownLanguage


def test_every_language_has_both_folders_and_they_agree():
    instr = {d.name for d in INSTRUMENTERS.iterdir() if (d / "language.toml").exists()}
    runs = {d.name for d in RUNTIMES.iterdir() if (d / "runtime.toml").exists()}
    assert instr == runs
    for name in instr:
        data = tomllib.loads((INSTRUMENTERS / name / "language.toml").read_text())
        assert data["id"] == name
        assert all(ext.startswith(".") for ext in data["extensions"])
        assert (INSTRUMENTERS / name / "rewrite.py").exists()
        rt = tomllib.loads((RUNTIMES / name / "runtime.toml").read_text())
        assert rt["run"] and rt["source"]
        assert rt["toolchain"]["commands"], f"{name}: runtime.toml must say which commands it needs"


def test_registry_finds_by_id_alias_extension_and_shebang():
    reg = plugins.languages()
    assert reg.get("python").id == "python"
    assert reg.get("PY").id == "python"
    assert reg.get("js").id == "javascript"
    assert reg.for_path("x/y/prog.c").id == "c"
    assert reg.for_path("script", b"#!/usr/bin/env python3\nprint(1)\n").id == "python"
    assert reg.for_path("tool", b"#!/usr/bin/node\n").id == "javascript"
    with pytest.raises(UnknownLanguage, match="unknown extension .zz"):
        reg.for_path("a.zz")
    with pytest.raises(UnknownLanguage, match="unknown language"):
        reg.get("cobol")


def test_extensions_are_unique_across_languages():
    seen = {}
    for lang in plugins.languages():
        for ext in lang.extensions:
            assert ext not in seen, f"{ext} claimed by {seen.get(ext)} and {lang.id}"
            seen[ext] = lang.id
