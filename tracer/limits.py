"""Run limits, resolved in layers: defaults < runtime.toml < command line < a request from code."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}


def parse_size(text: str | int) -> int:
    """'512M', '1g', '4096' -> bytes."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (use e.g. 512M, 2G)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0          # wall seconds of the run phase
    compile_timeout: float = 60.0  # wall seconds of the compile phase (javac, rustc, g++ on a busy machine)
    memory: int = 1 << 30          # bytes of data segment (RLIMIT_DATA) and cgroup memory
    max_output: int = 1 << 20      # bytes of stdout and of stderr kept; beyond: output_limit
    max_events: int = 100_000      # call/line/return/exception events; beyond: truncated
    max_value: int = 200           # characters per rendered value
    max_trace_bytes: int = 256 << 20  # bytes of the trace channel (RLIMIT_FSIZE), and of its decoded events
    processes: int = 64            # processes/threads of the sandbox uid
    open_files: int = 256
    max_source_bytes: int = 1 << 20  # inputs larger than this are not traced

    def merged(self, layer: dict | None) -> Limits:
        """A copy with the set (non-None) entries of `layer` applied; sizes may be strings."""
        if not layer:
            return self
        known = {f.name: f.type for f in fields(self)}
        changes = {}
        for key, value in layer.items():
            if value is None:
                continue
            if key not in known:
                raise ValueError(f"unknown limit {key!r}")
            if key in ("memory", "max_output", "max_trace_bytes", "max_source_bytes"):
                value = parse_size(value)
            changes[key] = float(value) if key.endswith("timeout") else int(value)
        return replace(self, **changes)

    def compiling(self) -> Limits:
        """The limits of a compile phase: its own timeout, the rest the same."""
        return replace(self, timeout=self.compile_timeout)

    def as_dict(self) -> dict:
        return asdict(self)


def resolve(*layers: dict | None) -> Limits:
    limits = Limits()
    for layer in layers:
        limits = limits.merged(layer)
    return limits
