"""A plugin with a misspelled hook name."""

from codealchemy.tracer.hookspecs import hookimpl


@hookimpl
def register_langauges(register):
    pass
