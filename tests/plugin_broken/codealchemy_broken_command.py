"""A plugin whose command hook raises after adding a command."""

from codealchemy.tracer.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    @app.command("half-added")
    def half_added() -> None:
        print("must not be reachable")

    raise RuntimeError("command set-up failed")
