"""A program that imports a library the runtime lacks ends with status missing_dependency and
the module's name, decided from the runtime's own error by runtime.toml's `missing_dependency`
regexes; real programs, traced for real, per language. The same failure for another reason
(a relative import, an unknown type, a plain exception) stays what it was."""

from __future__ import annotations

import json

import pytest

from codealchemy.tracer import images, plugins
from codealchemy.tracer.languages import Runtime

CASES = [   # (language, file, program, status, module)
    ("python", "main.py", "import json\nfrom requests_nowhere.adapters import X\nprint(json.dumps(1))\n",
     "missing_dependency", "requests_nowhere"),
    ("python", "main.py", "raise ValueError('No module named x')\n", "runtime_error", None),
    ("javascript", "main.js", "const pad = require('left-pad-nowhere');\nconsole.log(pad('a', 3));\n",
     "missing_dependency", "left-pad-nowhere"),
    ("javascript", "main.js", "const x = require('@scope-nowhere/pkg/sub');\n", "missing_dependency",
     "@scope-nowhere/pkg"),
    ("javascript", "main.js", "require('./helpers');\n", "runtime_error", None),   # a project file, not a library
    ("typescript", "main.ts", "import { thing } from 'esm-nowhere';\nconsole.log(thing);\n",
     "missing_dependency", "esm-nowhere"),
    ("ruby", "main.rb", "require 'json'\nrequire 'nokogiri_nowhere/html'\nputs 1\n", "missing_dependency",
     "nokogiri_nowhere"),
    ("ruby", "main.rb", "require_relative 'helpers'\n", "runtime_error", None),
    ("php", "main.php", "<?php\nrequire 'vendor/autoload.php';\necho 1;\n", "missing_dependency",
     "vendor/autoload.php"),
    ("c", "main.c", "#include <stdio.h>\n#include <curl_nowhere/curl.h>\nint main(void) { puts(\"1\"); return 0; }\n",
     "missing_dependency", "curl_nowhere/curl.h"),
    ("c", "main.c", "int main(void) { return undeclared; }\n", "compile_error", None),
    ("cpp", "main.cpp", "#include <boost_nowhere/any.hpp>\nint main() { return 0; }\n", "missing_dependency",
     "boost_nowhere/any.hpp"),
    ("go", "main.go", "package main\n\nimport (\n\t\"fmt\"\n\t\"github.com/nowhere/pkg\"\n)\n\n"
     "func main() { fmt.Println(pkg.X) }\n", "missing_dependency", "github.com/nowhere/pkg"),
    ("rust", "main.rs", "extern crate serde_nowhere;\nfn main() { println!(\"1\"); }\n", "missing_dependency",
     "serde_nowhere"),
    ("java", "Main.java", "import com.google.gson_nowhere.Gson;\npublic class Main {\n"
     "    public static void main(String[] a) { System.out.println(1); }\n}\n", "missing_dependency",
     "com.google.gson_nowhere"),
    ("csharp", "Program.cs", "using Newtonsoft.Json;\nclass P { static void Main() { System.Console.Write(1); } }\n",
     "missing_dependency", "Newtonsoft"),
    ("csharp", "Program.cs", "class P { static void Main() { Foo x = null; System.Console.WriteLine(x); } }\n",
     "compile_error", None),   # the same error for an unknown type: not a library
]


@pytest.mark.parametrize(("language", "name", "code", "status", "module"), CASES,
                         ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)])
def test_a_missing_library_is_missing_dependency_with_its_name(tracer, tmp_path, language, name, code, status,
                                                               module):
    lang = plugins.languages().get(language)
    missing = lang.runtime.missing_tools()
    if missing:
        pytest.skip(f"{language}: {', '.join(missing)} not installed here")
    (tmp_path / name).write_text(code)
    foot = tracer.trace(tmp_path / name, language).footer
    assert (foot["status"], foot.get("module")) == (status, module), foot
    if module is not None:
        assert module in foot["reason"] and foot["stderr"]


def test_every_runtime_with_packages_says_how_a_missing_one_looks():
    have = {lang.id for lang in plugins.languages() if lang.runtime.missing_dependency}
    assert have >= {"python", "javascript", "typescript", "ruby", "php", "c", "cpp", "go", "rust", "java",
                    "csharp", "swift"}


def test_a_pattern_without_a_module_group_is_refused(tmp_path):
    (tmp_path / "runtime.toml").write_text("source = 'main.x'\nrun = ['x']\nmissing_dependency = 'No module'\n")
    with pytest.raises(ValueError, match="no \\(\\?P<module>...\\) group"):
        Runtime.load(tmp_path)


def test_dump_stats_lists_the_most_wanted_libraries(tracer, tmp_path):
    from typer.testing import CliRunner

    from codealchemy.tracer.cli import build_app
    from codealchemy.tracer.records import DumpWriter

    programs = {"a.py": "import requests_nowhere\n", "b.py": "import requests_nowhere.api\n",
                "c.py": "import numpy_nowhere as np\n", "d.js": "require('left-pad-nowhere');\n",
                "ok.py": "print(1)\n"}
    with DumpWriter(tmp_path / "dump", shard="s") as writer:
        for name, code in programs.items():
            (tmp_path / name).write_text(code)
            writer.add(tracer.trace(tmp_path / name).records)
    got = CliRunner().invoke(build_app(), ["dump", "stats", str(tmp_path / "dump"), "--json"])
    assert got.exit_code == 0, got.output
    stats = json.loads(got.stdout)
    assert stats["python"]["missing_dependency"] == 3 and stats["python"]["ok"] == 1
    assert stats["python"]["missing_libraries"] == {"requests_nowhere": 2, "numpy_nowhere": 1}
    assert stats["javascript"]["missing_libraries"] == {"left-pad-nowhere": 1}
    table = CliRunner().invoke(build_app(), ["dump", "stats", str(tmp_path / "dump"), "--top", "2"]).stdout
    assert "Most wanted libraries" in table
    rows = [line for line in table.splitlines() if "nowhere" in line]
    assert len(rows) == 2 and "requests_nowhere" in rows[0] and "2" in rows[0]


def test_a_missing_library_the_image_lists_names_its_package(tracer, tmp_path):
    checked = 0
    for lang_id, module in (("python", "sklearn"), ("javascript", "lodash")):
        package = images.package_for(lang_id, module)
        assert package is not None, f"{lang_id}'s libraries.txt no longer lists {module}"
        name = plugins.languages().get(lang_id).runtime.source
        (tmp_path / name).write_text("import sklearn.linear_model\n" if lang_id == "python"
                                     else "const _ = require('lodash');\n")
        foot = tracer.trace(tmp_path / name, lang_id).footer
        if foot["status"] == "ok":
            continue   # installed on this machine
        assert (foot["status"], foot["module"], foot["package"]) == ("missing_dependency", module, package), foot
        checked += 1
    if not checked:
        pytest.skip("sklearn and lodash are both installed here")
    (tmp_path / "main.py").write_text("import nowhere_at_all\n")
    foot = tracer.trace(tmp_path / "main.py", "python").footer
    assert foot["module"] == "nowhere_at_all" and "package" not in foot
