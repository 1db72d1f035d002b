"""An example third-party plugin: adds `trace hello` and a strategy named `shout`."""

import typer

from codealchemy.tracer.hookspecs import hookimpl


class Shout:
    def rows(self, texts):
        for text in texts:
            yield {"text": text.upper()}


@hookimpl
def register_strategies(register):
    register("shout", Shout)


@hookimpl
def register_commands(app: typer.Typer):
    @app.command("hello")
    def hello(name: str = "world") -> None:
        """Greet (from a plugin)."""
        print(f"hello {name} from a plugin")
