"""A real plugin package, installed with `trace plugins install` into a temporary environment."""

import json
import os
import re
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent / "plugin_example"
BROKEN = Path(__file__).parent / "plugin_broken"


@pytest.fixture
def env(tmp_path_factory):
    """A venv that sees this environment's packages (codealchemy included) but installs into its own."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(subprocess.check_output([root / "bin" / "python", "-c", code], text=True).strip())
    parents = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (purelib / "_parent_env.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in parents))
    return root / "bin" / "python"


def trace(python, *args, **env):
    return subprocess.run([str(python), "-m", "codealchemy.tracer.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_install_discover_use_and_uninstall(env):
    before = trace(env, "plugins", "list")
    assert before.returncode == 0 and "codealchemy_hello" not in before.stdout
    strategies = int(re.search(r"(\d+) strategies", before.stdout).group(1))  # built-ins register some too
    assert trace(env, "hello").returncode != 0

    installed = trace(env, "plugins", "install", str(EXAMPLE))
    assert installed.returncode == 0, installed.stderr
    listed = trace(env, "plugins", "list")
    assert "codealchemy-hello 0.1.0" in listed.stdout and "register_strategies" in listed.stdout
    assert f"{strategies + 1} strategies" in listed.stdout
    hello = trace(env, "hello", "--name", "tracer")
    assert hello.stdout.strip() == "hello tracer from a plugin"

    assert trace(env, "plugins", "uninstall", "codealchemy-hello").returncode == 0
    assert "codealchemy_hello" not in trace(env, "plugins", "list").stdout


def test_a_misspelled_hook_fails_loudly():
    import pluggy

    from codealchemy.tracer import hookspecs

    class Typo:
        @hookspecs.hookimpl
        def register_langauges(self, register):
            pass

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(Typo())
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


BROKEN_REASONS = {"broken_import": "import failed: ModuleNotFoundError",
                  "broken_typo": "unknown hook register_langauges",
                  "broken_raises": "register_strategies raised RuntimeError: strategy set-up failed",
                  "broken_command": "register_commands raised RuntimeError: command set-up failed"}


def _reported(stderr: str) -> list[str]:
    """The plugin names of the stderr lines that report a broken plugin."""
    return sorted(m.group(1) for m in re.finditer(r"^trace: plugin (\S+) .*is broken and skipped", stderr, re.M))


def test_broken_plugins_are_reported_once_and_skipped(env, tmp_path):
    done = trace(env, "plugins", "install", str(BROKEN))
    assert done.returncode == 0, done.stderr

    for args in (["--help"], ["langs"], ["gen", "list"], ["plugins", "list"]):
        r = trace(env, *args)
        assert r.returncode == 0, (args, r.stderr)
        reported = _reported(r.stderr)
        assert len(reported) == len(set(reported)), r.stderr  # once each
        assert {"broken_import", "broken_typo", "broken_command"} <= set(reported), r.stderr
        assert len(r.stderr.strip().splitlines()) == len(reported), r.stderr
    listed = trace(env, "plugins", "list")
    assert _reported(listed.stderr) == sorted(BROKEN_REASONS)
    for name, reason in BROKEN_REASONS.items():  # its table row: name, distribution, status and reason
        row = rf"^\W+{name} +\W+codealchemy-broken 0\.1\.0 +\W+broken: {reason[:40]}"
        assert re.search(row, listed.stdout, re.M), (name, listed.stdout)
    half = trace(env, "half-added")
    assert half.returncode != 0 and "must not be reachable" not in half.stdout
    for name, why in (("clashing", "option out clashes"), ("untyped", "things")):  # options the CLI cannot offer
        r = trace(env, "gen", name, "x", "--out", "y")
        assert r.returncode == 2 and "cannot be offered" in r.stderr and why in r.stderr, r.stderr
    (tmp_path / "in").mkdir()
    r = trace(env, "gen", "incomplete", str(tmp_path / "in"), "--out", str(tmp_path / "o.jsonl"))
    assert r.returncode == 2 and "does not implement the Strategy contract: no load, process, unload" in r.stderr
    r = trace(env, "eval", "incomplete", "build", str(tmp_path / "in"), "--out", str(tmp_path / "t.jsonl"))
    assert r.returncode == 2 and "does not implement the Benchmark contract: no predict, score" in r.stderr

    off = trace(env, "plugins", "list", CODEALCHEMY_DISABLE_PLUGINS="1")
    assert off.returncode == 0 and off.stderr == "" and off.stdout.count("disabled") == len(BROKEN_REASONS) + 1
    broken_off = trace(env, "plugins", "list", CODEALCHEMY_DISABLE_PLUGINS=",".join(BROKEN_REASONS))
    counts = re.search(r"\d+ languages.*", broken_off.stdout).group(0)
    assert counts in listed.stdout  # what broken hooks registered before raising is not left behind
    one_off = trace(env, "plugins", "list", CODEALCHEMY_DISABLE_PLUGINS="broken_typo, broken_import")
    assert _reported(one_off.stderr) == ["broken_command", "broken_raises"]
    by_dist = trace(env, "plugins", "list", CODEALCHEMY_DISABLE_PLUGINS="codealchemy-broken")
    assert by_dist.stderr == ""

    gone = trace(env, "plugins", "uninstall", "broken_typo")  # the entry-point name `plugins list` shows
    assert gone.returncode == 0, gone.stderr
    after = trace(env, "plugins", "list")
    assert after.stderr == "" and "broken" not in after.stdout
    unknown = trace(env, "plugins", "uninstall", "no-such-plugin")
    assert unknown.returncode == 2 and "no installed plugin" in unknown.stderr


DOCS = Path(__file__).parents[1] / "docs" / "plugins.md"


def test_the_documented_example_plugin_runs_through_trace_gen(env, small_model_args, tmp_path):
    docs = DOCS.read_text(encoding="utf-8")
    for path in ("pyproject.toml", "codealchemy_hello/__init__.py", "codealchemy_hello/prompts/explain.txt"):
        assert (EXAMPLE / path).read_text(encoding="utf-8") in docs, f"docs/plugins.md does not show {path} as it is"
    assert trace(env, "plugins", "install", str(EXAMPLE)).returncode == 0

    helped = trace(env, "gen", "explain", "--help")
    assert helped.returncode == 0 and "--max-lines" in helped.stdout and "--audience" in helped.stdout
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "add.py").write_text("def add(a, b):\n    return a + b\n")
    (corpus / "hi.js").write_text("console.log('hi');\n")
    (corpus / "long.py").write_text("x = 1\n" * 30)
    out = tmp_path / "rows.jsonl"
    args = ("gen", "explain", str(corpus), *small_model_args, "--param", "max_tokens=24", "--max-lines", "10",
            "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
    r = trace(env, *args)
    assert r.returncode == 0, r.stderr
    from codealchemy.tracer.testing import check_rows

    good = check_rows(out)
    assert sorted(x["source_id"] for x in good) == [str(corpus / "add.py"), str(corpus / "hi.js")]
    assert {x["language"] for x in good} == {"python", "javascript"} and {x["strategy"] for x in good} == {"explain"}
    assert all(x["text"].startswith("User:\nExplain what this") and x["model"] for x in good)
    left = check_rows(tmp_path / "rows.jsonl.failures.jsonl")
    assert [(x["source_id"], x["status"]) for x in left] == [(str(corpus / "long.py"), "skipped")]

    # the plugin's benchmark, through the same generic `trace eval NAME build|predict|score`
    tasks, pred = tmp_path / "tasks.jsonl", tmp_path / "pred.jsonl"
    built = trace(env, "eval", "linecount", "build", str(corpus), "--out", str(tasks), "--max-lines", "10")
    assert built.returncode == 0 and "left out 1: no text or too long" in built.stderr, built.stderr
    task_rows = [json.loads(line) for line in tasks.read_text().splitlines()]
    assert sorted(t["reference"] for t in task_rows) == ["1", "2"]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"prompt": t["prompt"], "completion": t["reference"]}) + "\n"
                               for t in task_rows))
    r = trace(env, "eval", "linecount", "predict", str(tasks), "--generator", "file", "--option", f"path={answers}",
              "--out", str(pred), "--no-cache")
    assert r.returncode == 0, r.stderr
    scored = trace(env, "eval", "linecount", "score", str(tasks), str(pred), "--json")
    assert json.loads(scored.stdout) == {"exact_match": 1.0, "n": 2}
    r = trace(env, "eval", "linecount", "predict", str(tasks), *small_model_args, "--param", "max_tokens=4",
              "--out", str(pred), "--cache-dir", str(tmp_path / "cache"))
    assert r.returncode == 0, r.stderr
    assert 0.0 <= json.loads(trace(env, "eval", "linecount", "score", str(tasks), str(pred), "--json").stdout)[
        "exact_match"] <= 1.0

    assert trace(env, "plugins", "uninstall", "hello").returncode == 0   # the entry-point name
    assert trace(env, "gen", "explain", "--help").returncode != 0
