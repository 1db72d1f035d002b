"""Strategies and a benchmark the CLI cannot run (options it cannot offer, missing methods): it says why."""

from dataclasses import dataclass, field

from codealchemy.tracer.contracts import option
from codealchemy.tracer.hookspecs import hookimpl


@dataclass(frozen=True)
class Clashing:
    out: str = option("x", "Takes the name of trace gen's own --out.")


@dataclass(frozen=True)
class Untyped:
    things: dict = field(default=None)


class ClashingStrategy:
    Options = Clashing


class UntypedStrategy:
    Options = Untyped


@hookimpl
def register_strategies(register):
    register("clashing", ClashingStrategy)
    register("untyped", UntypedStrategy)
    register("incomplete", Incomplete)


class Incomplete:
    """Has options but no process(), load() or unload()."""

    name, consumes, uses_generator, prompt_version = "incomplete", ("sources",), False, "x"


class IncompleteBenchmark:
    """Has no predict() or score()."""

    name = "incomplete"

    def build(self, source):
        raise AssertionError("never reached")


@hookimpl
def register_benchmarks(register):
    register("incomplete", IncompleteBenchmark)
