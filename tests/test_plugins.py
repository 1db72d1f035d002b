"""A real plugin package, installed with `trace plugins install` into a temporary environment."""

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


def test_broken_plugins_are_reported_once_and_skipped(env):
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

    off = trace(env, "plugins", "list", CODEALCHEMY_DISABLE_PLUGINS="1")
    assert off.returncode == 0 and off.stderr == "" and off.stdout.count("disabled") == len(BROKEN_REASONS)
    counts = re.search(r"\d+ languages.*", off.stdout).group(0)
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
