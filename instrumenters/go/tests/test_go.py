"""Go tracing: goldens, traced == untraced, compile errors kept, panics, goroutines, limits.

Every fixture is compiled twice (traced and untraced); with the warm build cache (see
runtimes/go/warm-cache.sh, run once here by the `warm` fixture) a build takes about 0.5 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, Skip, instrument
from codealchemy.tracer.testing import check_golden, check_same_run
from codealchemy.tracer.tracing import request_for

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
CONFORMANCE = HERE / "conformance"
RUNTIME = HERE.parent.parent.parent / "runtimes" / "go"
BENCH = FIXTURES / "bench_loop.go"
PROGRAMS = sorted(p for p in FIXTURES.glob("*.go") if p != BENCH)
GO = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)

pytestmark = pytest.mark.skipif(GO is None, reason="go is not installed")


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Warm the shared read-only build cache once (a no-op when it is warm already)."""
    if os.access(Path(RUNTIME / "runtime.toml").parent, os.R_OK) and os.geteuid() == 0:
        subprocess.run(["sh", str(RUNTIME / "warm-cache.sh")], check=False, capture_output=True,
                       env={**os.environ, "PATH": f"{os.path.dirname(GO)}:{os.environ.get('PATH', '')}"})


@pytest.fixture(scope="module")
def go():
    return plugins.languages().get("go")


def test_enough_fixtures():
    assert len(PROGRAMS) >= 20


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_golden(path, runs):
    traced, _ = runs(path)
    check_golden(traced.events, path.with_suffix(".jsonl"))


@pytest.mark.parametrize("path", PROGRAMS + sorted(CONFORMANCE.glob("*.go")),
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_same_output_and_exit_code(path, runs):
    traced, untraced = runs(path)
    # a failure: the program's own stderr, then the runtime's panic message, the same bytes untraced
    check_same_run(traced, untraced.run, same_stderr="ok", failure_tail=True)


WRAPPERS = re.compile(r"_ca(Println|Printf|Print|Fprintln|Fprintf|Fprint) ?")
REWRITTEN = ("for ", "else if", "func", "recover()", "panic(", "os.Exit", "log.Fatal", "os.Std", "bufio.NewWriter")


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_lines_and_columns_kept(path, go):
    """Probes go at the end of the previous line: each statement keeps its line and column."""
    source = path.read_text(encoding="utf-8")
    result = instrument(source, go)
    assert isinstance(result, Instrumented), result
    src, out = source.splitlines(), result.code.splitlines()
    assert len(out) >= len(src)
    for a, b in zip(src, out, strict=False):
        if not any(word in a for word in REWRITTEN):
            assert WRAPPERS.sub(lambda m: "fmt." + m.group(1), b).startswith(a), (a, b)


UNUSED_VAR = """\
package main

import "fmt"

func main() {
	x := 1
	y := 2
	fmt.Println(y)
}
"""

UNUSED_IMPORT = """\
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("hi")
}
"""

UNUSED_ASSIGNED = """\
package main

func main() {
	var s []int
	n := 0
	n = 3
	s = nil
	for i := 0; i < 2; i++ {
	}
}
"""


@pytest.mark.parametrize("program,message", [
    (UNUSED_VAR, "./main.go:6:2: declared and not used: x"),
    (UNUSED_IMPORT, '"os" imported and not used'),
    (UNUSED_ASSIGNED, "declared and not used: n"),
], ids=["unused_var", "unused_import", "assigned_only"])
def test_compile_errors_kept(tmp_path, runs, program, message):
    """Probes never turn an unused variable or import into a use: the same compiler error."""
    path = tmp_path / "bad.go"
    path.write_text(program)
    traced = runs.tracer.trace(path)
    untraced = runs.tracer.untraced(path)
    assert untraced.compile.status == "compile_error"
    assert traced.footer["status"] == "compile_error", traced.footer
    assert message in untraced.compile.stderr.decode()
    assert traced.footer["stderr"] == untraced.compile.stderr.decode()
    assert "repairs" not in traced.header


def test_main_frame_and_depths(runs):
    traced, _ = runs(FIXTURES / "recursion.go")
    events = [e for e in traced.events if e["kind"] != "output"]
    assert events[0] == {"kind": "call", "func": "main", "line": 19, "frame": 1, "depth": 0, "args": {}}
    assert events[-1]["kind"] == "return" and events[-1]["frame"] == 1
    calls = [e for e in events if e["kind"] == "call"]
    assert len({e["frame"] for e in calls}) == len(calls)
    facts = [(e["depth"], e["args"]["n"]) for e in calls if e["func"] == "fact"]
    assert facts == [(1, "4"), (2, "3"), (3, "2"), (4, "1")]
    returns = [e["value"] for e in events if e["kind"] == "return" and e["func"] == "fact"]
    assert returns == ["1", "2", "6", "24"]


def test_uncaught_panic(runs):
    traced, untraced = runs(FIXTURES / "uncaught_panic.go")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 2
    expected = "panic: insufficient funds: have 6, need 20\n"
    assert untraced.run.stderr.decode().endswith(expected)
    assert traced.footer["stderr"] == untraced.run.stderr.decode()
    tail = [(e["kind"], e["func"], e.get("value", "-")) for e in traced.events if e["kind"] != "output"][-4:]
    assert tail == [("exception", "Account.Withdraw", "-"), ("return", "Account.Withdraw", None),
                    ("exception", "main", "-"), ("return", "main", None)]
    exc = next(e for e in traced.events if e["kind"] == "exception")
    assert exc["type"] == "*fmt.wrapError" or exc["type"].startswith("*errors.")
    assert exc["message"] == "insufficient funds: have 6, need 20"


def test_panics_pass_through_frames(runs):
    traced, _ = runs(FIXTURES / "panic_recover.go")
    exc = [(e["func"], e["message"]) for e in traced.events if e["kind"] == "exception"]
    assert exc == [("check", "negative: -1"), ("middle", "negative: -1"), ("safe", "negative: -1")]
    unwound = [e["func"] for e in traced.events if e["kind"] == "return" and e["value"] is None]
    assert unwound == ["check", "middle"]


def test_os_exit_flushes(runs):
    traced, untraced = runs(FIXTURES / "os_exit.go")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 3
    last = [e for e in traced.events if e["kind"] == "line"][-1]
    assert (last["func"], last["line"]) == ("check", 11)
    assert traced.stdout == "too big, exiting\n"


CONCURRENT = """\
package main

import (
	"fmt"
	"sync"
)

func work(id int, wg *sync.WaitGroup, mu *sync.Mutex, total *int) {
	defer wg.Done()
	sum := 0
	for i := 0; i < 200; i++ {
		sum += i * id
	}
	mu.Lock()
	*total += sum
	mu.Unlock()
}

func main() {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for id := 1; id <= 8; id++ {
		wg.Add(1)
		go work(id, &wg, &mu, &total)
	}
	wg.Wait()
	fmt.Println(total)
}
"""


def test_goroutines_have_their_own_frames(tmp_path, runs):
    path = tmp_path / "concurrent.go"
    path.write_text(CONCURRENT)
    traced = runs.tracer.trace(path)
    assert traced.footer["status"] == "ok" and traced.footer["dropped"] == 0, traced.footer
    assert traced.stdout == "716400\n"
    frames = defaultdict(list)
    for e in traced.events:
        if e["kind"] != "output":
            frames[e["frame"]].append(e)
    work = [evs for evs in frames.values() if evs[0]["func"] == "work"]
    assert len(work) == 8
    ids = sorted(int(evs[0]["args"]["id"]) for evs in work)
    assert ids == list(range(1, 9))
    for evs in work:
        assert evs[0]["kind"] == "call" and evs[-1]["kind"] == "return"
        assert {e["depth"] for e in evs} == {0}  # each goroutine counts its own depth
        assert {e["func"] for e in evs} == {"work"}
        sums = [e["vars"]["sum"] for e in evs if e["kind"] == "line" and "sum" in e["vars"]]
        assert sums[-1] == str(sum(i * int(evs[0]["args"]["id"]) for i in range(200)))


def test_no_channel_no_probes(go, runs):
    """Without CODEALCHEMY_TRACE_FD the instrumented program runs alone, with the same output."""
    path = FIXTURES / "panic_recover.go"
    inst = instrument(path.read_text(), go)
    request = request_for(go, inst.code, inst.source_name, inst.files, runs.tracer.limits, trace=False)
    result = runs.tracer.backend.run(request)
    _, untraced = runs(path)
    assert result.run.status == "ok"
    assert result.run.stdout == untraced.run.stdout and result.trace == b""


def test_max_events_and_value(tmp_path, runs):
    path = tmp_path / "long.go"
    path.write_text('package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\nfunc main() {\n'
                    '\ts := strings.Repeat("ab", 200)\n\tn := 0\n\tfor i := 0; i < 1000; i++ {\n'
                    '\t\tn += i\n\t}\n\tfmt.Println(len(s), n)\n}\n')
    traced = runs.tracer.trace(path, max_events=50, max_value=20)
    footer = traced.footer
    assert footer["truncated"] and footer["truncation"] == "max_events"
    assert footer["status"] == "ok" and footer["events"] == 50
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert '"abababababababababa…' in values or any(v.endswith("…") and len(v) == 20 for v in values)


def test_forged_output_is_only_output(runs):
    traced, _ = runs(FIXTURES / "fake_trace_output.go")
    kinds = [e["kind"] for e in traced.events]
    assert kinds.count("call") == 1 and kinds.count("return") == 1
    assert traced.stdout == "c\t0\t1\t0\nl\t1\t1\t0\tx\t42\nr\t0\t1\t0\tforged\n"


def test_bench_loop(runs):
    traced, untraced = runs(BENCH)
    lines = sum(1 for e in traced.events if e["kind"] == "line")
    assert 80_000 <= lines <= 100_000 and not traced.footer["truncated"]
    assert traced.stdout == untraced.run.stdout.decode() == "21783\n"


@pytest.mark.parametrize("program,reason", [
    ("package lib\n\nfunc F() {}\n", "not a main package"),
    ("package main\n\nfunc helper() {}\n", "no func main"),
    ("package main\n\nfunc main() { _caf := 1; _ = _caf }\n", "reserved"),
    ('package main\n\nimport "C"\n\nfunc main() {}\n', "cgo"),
])
def test_skips(go, program, reason):
    result = instrument(program, go)
    assert isinstance(result, Skip) and reason in result.reason


def test_values_render_like_go(tmp_path, runs):
    path = tmp_path / "values.go"
    path.write_text("""\
package main

type P struct {
	X int
	s string
}

func main() {
	m := map[string][]int{"b": {2}, "a": nil}
	p := &P{X: 1, s: "q"}
	var e error
	var f func()
	u := uint8(255)
	fl := 2.5
	arr := [2]bool{true}
	var i any = P{}
	println(len(m), p.X, e == nil, f == nil, u, fl, arr[0], i != nil)
}
""")
    traced = runs.tracer.trace(path)
    seen = {}
    for e in traced.events:
        if e["kind"] == "line":
            seen.update(e["vars"])
    assert seen["m"] == 'map[string][]int{"a":[]int(nil), "b":[]int{2}}'
    assert seen["p"] == '&main.P{X:1, s:"q"}'
    assert seen["e"] == "<nil>" and seen["f"] == "(func())(nil)"
    assert seen["u"] == "0xff" and seen["fl"] == "2.5" and seen["arr"] == "[2]bool{true, false}"
    assert seen["i"] == 'main.P{X:0, s:""}'


def test_diagnostic_regex_matches_go(go):
    pattern = go.runtime.diagnostic.replace("{source}", re.escape("main.go"))
    m = re.search(pattern, "# command-line-arguments\n./main.go:6:2: declared and not used: x\n", re.M)
    assert m and m.group("line") == "6" and m.group("message") == "declared and not used: x"


GOROUTINE_PANIC = """\
package main

import (
	"fmt"
	"sync"
)

func worker(n int, wg *sync.WaitGroup) {
	defer wg.Done()
	if n == 2 {
		panic(fmt.Sprintf("worker %d failed", n))
	}
}

func main() {
	var wg sync.WaitGroup
	wg.Add(1)
	go worker(2, &wg)
	wg.Wait()
	fmt.Println("not reached")
}
"""

LOG_FATAL = """\
package main

import (
	"fmt"
	"log"
)

func main() {
	log.SetFlags(0)
	x := 41
	x++
	fmt.Println("before", x)
	log.Fatalf("fatal: %d", x)
}
"""


def test_panic_in_goroutine(tmp_path, runs):
    path = tmp_path / "gopanic.go"
    path.write_text(GOROUTINE_PANIC)
    traced, untraced = runs(path)
    assert traced.footer["exit_code"] == untraced.run.exit_code == 2
    assert untraced.run.stderr.decode() == traced.footer["stderr"] == "panic: worker 2 failed\n"
    worker = [e for e in traced.events if e.get("func") == "worker"]
    assert [e["kind"] for e in worker][-2:] == ["exception", "return"]
    assert {e["depth"] for e in worker} == {0} and worker[0]["frame"] != 1


def test_log_fatal_flushes(tmp_path, runs):
    path = tmp_path / "fatal.go"
    path.write_text(LOG_FATAL)
    traced, untraced = runs(path)
    assert traced.footer["exit_code"] == untraced.run.exit_code == 1
    assert traced.footer["stderr"] == untraced.run.stderr.decode() == "fatal: 42\n"
    last = [e for e in traced.events if e["kind"] == "line"][-1]
    assert last["line"] == 13 and last["vars"] == {}
    assert traced.stdout == "before 42\n"
