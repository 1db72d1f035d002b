"""The run engine: source file -> instrumented program -> sandboxed run -> trace records.

`trace_source` never raises for anything about the input or the program: every outcome is a
trace whose footer says what happened, so a batch goes on.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path

from . import __version__, images, plugins
from .backends import Backend, PhaseResult, RunRequest, RunResult, SandboxError
from .backends.servers import ServerSpec
from .instrument import Failure, Instrumented, Skip, instrument
from .languages import Language, UnknownLanguage
from .limits import Limits, resolve
from .records import footer, header, sha256, truncate
from .wire import Decoder

TOOL = f"codealchemy {__version__}"
STDERR_TAIL = 2000


def argv(template: list[str], source_name: str) -> list[str]:
    stem = Path(source_name).stem
    return [a.replace("{source}", source_name).replace("{stem}", stem) for a in template]


def request_for(lang: Language, code: str | bytes, source_name: str, files: dict[str, bytes], limits: Limits,
                *, trace: bool = True) -> RunRequest:
    rt = lang.runtime
    env = dict(rt.env)
    if trace:
        env.update(CODEALCHEMY_MAX_EVENTS=str(limits.max_events), CODEALCHEMY_MAX_VALUE=str(limits.max_value))
    data = code.encode("utf-8") if isinstance(code, str) else code
    return RunRequest(files={**files, source_name: data},
                      compile=argv(rt.compile, source_name) if rt.compile else None,
                      run=argv(rt.run, source_name), env=env, limits=limits, trace=trace, language=lang.id,
                      compile_server=ServerSpec.from_toml(lang.id, rt.compile_server, rt.dir),
                      tools=tuple(rt.toolchain.get("commands", ())))


def run_untraced(source: str | bytes, lang: Language, backend: Backend, limits: Limits) -> RunResult:
    """The program as it is, through the same runtime and sandbox (for comparisons)."""
    return backend.run(request_for(lang, source, lang.runtime.source, {}, limits, trace=False))


class InputError(Exception):
    """The input cannot be traced at all (missing, unreadable, too large, unknown language)."""


def read_source(path: Path, limits: Limits) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(f"{path} is a directory")
        if size > limits.max_source_bytes:
            raise InputError(f"{path} is {size} bytes, over the {limits.max_source_bytes}-byte limit")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None


def detect(path: Path, data: bytes, language: str | None) -> Language:
    registry = plugins.languages()
    return registry.get(language) if language else registry.for_path(path, data[:256])


def trace_file(path: str | Path, *, language: str | None = None, backend: Backend,
               overrides: dict | None = None) -> Iterator[dict]:
    """Trace one file; yields header, events, footer. Input problems become a footer.

    Limits resolve as defaults < the language's runtime.toml < `overrides`.
    """
    return trace_input(str(path), None, language=language, backend=backend, overrides=overrides)


def trace_input(source: str, data: bytes | None, *, language: str | None = None, backend: Backend,
                overrides: dict | None = None, error: str | None = None) -> Iterator[dict]:
    """Trace a file (`data` None: read `source`) or given content; `error` marks an input known bad."""
    limits = resolve(overrides)
    try:
        if error:
            raise InputError(error)
        if data is None:
            data = read_source(Path(source), limits)
        elif len(data) > limits.max_source_bytes:
            raise InputError(f"{source} is {len(data)} bytes, over the {limits.max_source_bytes}-byte limit")
        lang = detect(Path(source), data, language)
    except (InputError, UnknownLanguage) as e:
        yield header(language=language or "", source=source, sha256=sha256(data) if data else "",
                     instrumenter={}, limits=limits.as_dict(), tool=TOOL, backend=backend.name,
                     sandbox=getattr(backend, "sandbox", None))
        yield footer(status="input_error", reason=str(e))
        return
    yield from trace_source(data, lang, source=source, backend=backend,
                            limits=resolve(lang.runtime.limits, overrides))


def code_fields(data: bytes) -> dict:
    """The header's copy of the source: `code`, text to read (bytes that are not UTF-8 shown as
    U+FFFD), and for such a source also `code_base64`, its exact bytes."""
    try:
        return {"code": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"code": data.decode("utf-8", "replace"), "code_base64": base64.b64encode(data).decode("ascii")}


def trace_source(data: bytes, lang: Language, *, source: str, backend: Backend, limits: Limits) -> Iterator[dict]:
    t0 = time.monotonic()
    result = instrument(data, lang)
    t_instrument = time.monotonic() - t0
    head = header(language=lang.id, source=source, sha256=sha256(data),
                  instrumenter={"id": lang.id, "version": lang.version}, limits=limits.as_dict(),
                  tool=TOOL, backend=backend.name, sandbox=getattr(backend, "sandbox", None),
                  **code_fields(data))
    if isinstance(result, Skip):
        yield from (head, footer(status="skipped", reason=result.reason))
        return
    if isinstance(result, Failure):
        yield from (head, footer(status="instrument_error", reason=result.error))
        return
    try:
        inst, ran, repairs = _run_with_repairs(data, result, lang, backend, limits)
    except SandboxError as e:
        yield from (head, footer(status="sandbox_error", reason=str(e)))
        return
    if repairs:
        head["repairs"] = repairs
    yield head
    yield from _events(inst, ran, limits, t_instrument, lang)


#: How many times the repair loop may re-instrument a program that its probes broke.
MAX_REPAIRS = 4
_NAMED = re.compile(r"[‘'`\"](\w+)[’'`\"]|\bvariable (\w+)")


def diagnostics(lang: Language, stderr: bytes, source_name: str) -> list[tuple[int, str | None, str]]:
    """(line, variable or None, message) of each compiler error, by runtime.toml's `diagnostic` regex."""
    pattern = lang.runtime.diagnostic
    if not pattern:
        return []
    text = stderr.decode("utf-8", "replace")
    found = []
    for m in re.finditer(pattern.replace("{source}", re.escape(source_name)), text, re.M):
        message = m.group("message")
        named = _NAMED.search(message)
        found.append((int(m.group("line")), next((g for g in named.groups() if g), None) if named else None, message))
    return found


def _run_with_repairs(data: bytes, inst: Instrumented, lang: Language, backend: Backend, limits: Limits):
    """Run; where the probes (not the program) broke compilation, drop what the compiler named, retry."""
    ran = backend.run(request_for(lang, inst.data, inst.source_name, inst.files, limits))
    repairs: list[dict] = []
    drops: set[tuple[int, str | None]] = set()
    for _ in range(MAX_REPAIRS):
        if ran.compile is None or ran.compile.status != "compile_error":
            break
        if not repairs:
            own = _compile_original(data, inst.files, lang, backend, limits)
            if not own.ok:   # the program itself does not compile: that is the result, in its own words
                ran = RunResult(own, None, notes=ran.notes, timings=ran.timings)
                break
        new = set()
        for line, name, message in diagnostics(lang, ran.compile.stderr, inst.source_name):
            key = (line, name) if (line, name) not in drops else (line, None)
            if key not in drops and key not in new:
                new.add(key)
                repairs.append({"line": line, "variable": key[1], "reason": message.strip()})
        if not new:
            break
        drops |= new
        again = instrument(data, lang, {"drops": sorted(drops, key=str)})
        if not isinstance(again, Instrumented):
            break
        inst = again
        ran = backend.run(request_for(lang, inst.data, inst.source_name, inst.files, limits))
    return inst, ran, repairs


def _compile_original(data: bytes, files: dict[str, bytes], lang: Language, backend: Backend,
                      limits: Limits) -> PhaseResult:
    request = request_for(lang, data, lang.runtime.source, files, limits, trace=False)
    request.run = ["true"]
    return backend.run(request).compile


def missing_dependency(lang: Language, phase: PhaseResult) -> tuple[str, str] | None:
    """(module, the error's line) where a failed phase's stderr says a library is missing, by
    runtime.toml's `missing_dependency` regexes: the runtime's own words, not a guess."""
    if phase.status not in ("compile_error", "runtime_error"):
        return None
    text = phase.stderr.decode("utf-8", "replace")
    for pattern in lang.runtime.missing_dependency:
        m = re.search(pattern, text, re.M)
        if m:
            start, end = text.rfind("\n", 0, m.start()) + 1, text.find("\n", m.end())
            return m.group("module"), truncate(text[start:end if end >= 0 else None].strip(), 300)
    return None


def _events(inst: Instrumented, result, limits: Limits, t_instrument: float, lang: Language) -> Iterator[dict]:
    decoder = Decoder(inst.probe_map(), max_events=limits.max_events, max_value=limits.max_value,
                      max_bytes=limits.max_trace_bytes)
    yield from decoder.feed(result.trace)
    phase = result.final
    notes = [*inst.notes, *result.notes]
    channel = (decoder.channel_problem()
               if result.run is not None and result.run.status != "sandbox_error" else None)
    timings = {"instrument": round(t_instrument, 6)}
    if result.compile is not None:
        timings["compile"] = round(result.compile.wall, 6)
    if result.run is not None:
        timings["run"] = round(result.run.wall, 6)
    timings.update(result.timings)
    extra = {}
    reason = phase.reason
    if phase.status != "ok":
        text = (phase.stderr or phase.stdout).decode("utf-8", "replace")
        extra["stderr"] = truncate(text[-STDERR_TAIL:], STDERR_TAIL)
        if phase.status == "compile_error":   # what a user acts on: the compiler's first error
            reason = _first_error(text) or reason
    status = phase.status
    missing = missing_dependency(lang, phase)
    if missing is not None:   # a compile error keeps the compiler's first error as its reason
        status, extra["module"] = "missing_dependency", missing[0]
        reason = reason if phase.status == "compile_error" else missing[1]
        if (package := images.package_for(lang.id, missing[0])) is not None:
            extra["package"] = package   # the runtime image's library list has it: what to install

    if phase.stack:
        extra["stack"] = phase.stack
    if channel:
        extra["channel"] = channel[0]
        notes.append(channel[1])
    truncation = decoder.truncated or ("max_trace_bytes" if result.trace_truncated else None)
    yield footer(status=status, exit_code=phase.exit_code, events=decoder.events,
                 truncated=truncation is not None, truncation=truncation, reason=reason,
                 signal=phase.signal, dropped=decoder.dropped, timings=timings,
                 cpu=round(phase.cpu, 6), notes=notes, **extra)


def _first_error(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = next((x for x in lines if "error" in x.lower()), lines[0] if lines else None)
    return truncate(line, 300) if line else None
