"""The generator DevEval calls itself: the reference writer at build.

`trace eval NAME predict` and `judge` build the candidate's and the judge's generators, but build
gets only the benchmark's Options, so the reference writer is named there as a spec (plugin
name, `key=value` options, `key=value` sampling parameters), recorded in every task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...tracer import plugins
from ...tracer.generators import GenerationParams, Generator, GeneratorError, Request, parse_options
from ...tracer.generators.cache import with_cache


def spec(generator: str, options: Sequence[str] | None, params: Sequence[str] | None) -> dict[str, Any]:
    """A generator spec from Options values; ValueError on a bad pair or an unknown plugin."""
    known = plugins.generators()
    if generator not in known:
        raise ValueError(f"unknown generator {generator!r} (known: {', '.join(sorted(known)) or 'none'})")
    return {"generator": generator, "options": parse_options(list(options or ())),
            "params": GenerationParams.from_pairs(list(params or ())).to_dict()}


def make(spec: dict[str, Any]) -> tuple[Generator, GenerationParams]:
    """The cached generator and the parameters a spec names (the cache as `trace eval` uses it)."""
    try:
        gen = plugins.generators()[spec["generator"]](**spec.get("options", {}))
    except KeyError:
        raise ValueError(f"unknown generator {spec.get('generator')!r}") from None
    except (GeneratorError, TypeError) as e:
        raise ValueError(f"generator {spec['generator']!r}: {e}") from None
    params = dict(spec.get("params") or {})
    params["stop"] = tuple(params.get("stop") or ())
    return with_cache(gen), GenerationParams(**params)


def close(generator: Generator) -> None:
    """Stop what `make` started (a local server, the cache's connection)."""
    stop = getattr(generator, "close", None)
    if stop is not None:
        stop()


def ask(generator: Generator, params: GenerationParams, prompts: Sequence[tuple[str, str | tuple[dict, ...]]],
        batch_size: int = 8, choices: Sequence[str] | None = None) -> list:
    """One completion per (id, prompt) chat, in order: a prompt is one user turn, or the
    conversation's messages; each constrained to `choices` when given. In small batches, because
    the cache stores a batch's answers when it ends: a stopped build or judge resumes from there."""
    out: list = []
    for i in range(0, len(prompts), max(batch_size, 1)):
        chunk = prompts[i:i + batch_size]
        got = generator.generate([Request.user(key, text, choices=choices) if isinstance(text, str)
                                  else Request(key, messages=text, choices=choices) for key, text in chunk], params)
        if len(got) != len(chunk):
            raise GeneratorError(f"generator {generator.name!r} gave {len(got)} completions for {len(chunk)} prompts")
        out.extend(got)
    return out
