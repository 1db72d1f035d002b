"""The libraries of each runtime's libraries.txt are usable in its image: a program that imports
a listed one traces ok, compile phases included (rustc --extern, GOPATH, the class path, the
gcc/g++/mcs wrappers), while one that imports an unlisted one still ends as missing_dependency
with the module's name, which no listed package claims. Per image, in CODEALCHEMY_DOCKER_LANGS."""

from __future__ import annotations

import pytest

from codealchemy.tracer import images, plugins
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.testing import Traced
from codealchemy.tracer.tracing import trace_source

from ..conftest import need_image

pytestmark = pytest.mark.docker

#: language: (a program using listed libraries, its stdout, a program using an unlisted one, its module)
PROGRAMS = {
    "python": ("import yaml, bs4, numpy\nprint(yaml.safe_dump({'a': int(numpy.arange(4).sum())}).strip(),\n"
               "      bs4.BeautifulSoup('<p>hi</p>', 'html.parser').p.text)\n", "a: 6 hi\n",
               "import nowhere_lib_x.sub\n", "nowhere_lib_x"),
    "javascript": ("const _ = require('lodash');\nconst dayjs = require('dayjs');\n"
                   "console.log(_.chunk([1, 2, 3], 2).length, dayjs('2020-01-02').format('YYYY/MM/DD'));\n",
                   "2 2020/01/02\n", "require('nowhere-lib-x');\n", "nowhere-lib-x"),
    "typescript": ("import _ from 'lodash';\nconst xs: number[] = [1, 2, 3];\nconsole.log(_.sum(xs));\n", "6\n",
                   "import x from 'nowhere-lib-x';\nconsole.log(x);\n", "nowhere-lib-x"),
    "ruby": ("require 'active_support/all'\nrequire 'colorize'\nputs 2.days.to_i, 'x'.red.uncolorize\n",
             "172800\nx\n", "require 'nowhere_lib_x'\n", "nowhere_lib_x"),
    "php": ("<?php\nrequire 'vendor/autoload.php';\n"
            "echo Carbon\\Carbon::create(2020, 1, 2)->format('Y-m-d'), ' ', mb_strlen('héllo'), \"\\n\";\n",
            "2020-01-02 5\n", "<?php\nrequire 'nowhere/lib.php';\n", "nowhere/lib.php"),
    "c": ("#include <stdio.h>\n#include <gmp.h>\n#include <zlib.h>\n"
          "int main(void) {\n  mpz_t x; mpz_init(x); mpz_ui_pow_ui(x, 2, 100);\n"
          "  gmp_printf(\"%Zd %d\\n\", x, zlibVersion()[0] == '1');\n  mpz_clear(x); return 0;\n}\n",
          "1267650600228229401496703205376 1\n", "#include <nowhere_lib_x.h>\nint main(void) { return 0; }\n",
          "nowhere_lib_x.h"),
    "cpp": ("#include <iostream>\n#include <fmt/core.h>\n#include <Eigen/Dense>\n#include <boost/regex.hpp>\n"
            "int main() {\n  Eigen::Matrix2d m; m << 1, 2, 3, 4;\n"
            "  std::cout << fmt::format(\"{} {}\", m.determinant(), boost::regex_match(\"ab\", boost::regex(\"a.\")))"
            " << std::endl;\n}\n", "-2 true\n",
            "#include <nowhere_lib_x/x.hpp>\nint main() { return 0; }\n", "nowhere_lib_x/x.hpp"),
    "csharp": ("using System;\nusing System.Numerics;\nusing Newtonsoft.Json;\n"
               "class P { static void Main() {\n"
               "  Console.WriteLine(BigInteger.Pow(2, 70) + \" \" + JsonConvert.SerializeObject(new[] { 1, 2 }));\n"
               "} }\n", "1180591620717411303424 [1,2]\n",
               "using System;\nusing NowhereLibX;\nclass P { static void Main() { Console.WriteLine(1); } }\n",
               "NowhereLibX"),
    "go": ("package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/google/uuid\"\n\t\"golang.org/x/exp/slices\"\n)\n\n"
           "func main() {\n\tfmt.Println(uuid.NewMD5(uuid.NameSpaceDNS, []byte(\"x\")).Version(), "
           "slices.Max([]int{3, 9, 2}))\n}\n", "VERSION_3 9\n",
           "package main\n\nimport \"github.com/nowhere/libx\"\n\nfunc main() { libx.X() }\n",
           "github.com/nowhere/libx"),
    "rust": ("use serde::Serialize;\nuse itertools::Itertools;\n\n#[derive(Serialize)]\nstruct P { x: i32 }\n\n"
             "fn main() {\n    let s = serde_json::to_string(&P { x: 1 }).unwrap();\n"
             "    println!(\"{} {}\", s, [3, 1, 2].iter().sorted().join(\",\"));\n}\n", "{\"x\":1} 1,2,3\n",
             "use nowhere_lib_x::X;\nfn main() { let _ = X; }\n", "nowhere_lib_x"),
    "java": ("import com.google.common.base.Joiner;\nimport org.apache.commons.lang3.StringUtils;\n\n"
             "public class Main {\n    public static void main(String[] args) {\n"
             "        System.out.println(Joiner.on(\",\").join(1, 2) + \" \" + StringUtils.capitalize(\"ab\"));\n"
             "    }\n}\n", "1,2 Ab\n",
             "import nowhere.libx.Thing;\n\npublic class Main {\n"
             "    public static void main(String[] args) { System.out.println(1); }\n}\n", "nowhere.libx"),
    "bash": ("echo '{\"a\": [1, 2]}' | jq -c '.a'\necho 3 | xxd -p\n", "[1,2]\n330a\n",
             "echo hi\nnowhere_lib_x --version\n", "nowhere_lib_x"),
}


def trace(backend, lang_id: str, code: str) -> Traced:
    lang = plugins.languages().get(lang_id)
    return Traced(list(trace_source(code.encode(), lang, source=lang.runtime.source, backend=backend,
                                    limits=Limits(timeout=60))))


@pytest.mark.parametrize("lang_id", sorted(PROGRAMS))
def test_a_listed_library_is_there_and_an_unlisted_one_is_missing(docker_backend, lang_id):
    need_image(lang_id)
    code, stdout, unlisted, module = PROGRAMS[lang_id]
    got = trace(docker_backend, lang_id, code)
    assert (got.footer["status"], got.stdout) == ("ok", stdout), got.footer
    missing = trace(docker_backend, lang_id, unlisted).footer
    assert (missing["status"], missing.get("module")) == ("missing_dependency", module), missing
    assert images.package_for(lang_id, module) is None


def test_every_runtime_with_a_library_list_has_a_check():
    assert {i for i in images.dockerfiles() if images.libraries(i)} <= set(PROGRAMS)
