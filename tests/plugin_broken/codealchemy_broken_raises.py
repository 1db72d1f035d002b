"""A plugin whose registration hook raises after registering part of what it meant to."""

from codealchemy.tracer.hookspecs import hookimpl


@hookimpl
def register_strategies(register):
    register("half_registered", object)
    raise RuntimeError("strategy set-up failed")
