"""The `trace` command line. Errors are one clear line; CODEALCHEMY_DEBUG=1 shows the traceback."""

from __future__ import annotations

import os
import sys

import typer

from . import batch, dedup, dump, gen, langs, models, plugins_cmd, run, runtimes
from . import eval as eval_cmd


def build_app() -> typer.Typer:
    """A fresh `trace` app: the core's commands, `gen` and `eval` built from the strategies and
    benchmarks that plugins register, then the plugins' own commands."""
    from .. import plugins

    app = typer.Typer(name="trace", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                      help="CodeAlchemy: trace programs in 14 languages and turn traces into training data.")
    run.register(app)
    batch.register(app)
    langs.register(app)
    dedup.register(app)
    app.add_typer(plugins_cmd.app, name="plugins")
    app.add_typer(dump.app, name="dump")
    app.add_typer(eval_cmd.build(), name="eval")
    app.add_typer(gen.build(), name="gen")
    app.add_typer(runtimes.app, name="runtimes")
    app.add_typer(models.app, name="models")
    plugins.add_commands(app)
    return app


def main() -> None:
    try:
        build_app()(standalone_mode=True)
    except Exception as e:  # the last line of defence: one line, not a traceback
        if os.environ.get("CODEALCHEMY_DEBUG"):
            raise
        print(f"trace: error: {type(e).__name__}: {e} (set CODEALCHEMY_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(70)
