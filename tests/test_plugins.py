"""A real plugin package, installed with `trace plugins install` into a temporary environment."""

import re
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent / "plugin_example"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A venv that sees this environment's packages (codealchemy included) but installs into its own."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(subprocess.check_output([root / "bin" / "python", "-c", code], text=True).strip())
    parents = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (purelib / "_parent_env.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in parents))
    return root / "bin" / "python"


def trace(python, *args):
    return subprocess.run([str(python), "-m", "codealchemy.tracer.cli", *args], capture_output=True, text=True,
                          timeout=300)


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
