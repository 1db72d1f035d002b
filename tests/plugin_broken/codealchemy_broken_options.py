"""Strategies whose Options cannot become CLI options: the CLI says so and goes on."""

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
