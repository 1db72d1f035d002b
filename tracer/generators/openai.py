"""The `openai` generator: any OpenAI-compatible server (`vllm serve`, SGLang, llama.cpp's
server, OpenAI itself), chat requests on /chat/completions, prompt requests on /completions.

The transport is the standard library's http.client (one keep-alive connection per worker
thread), not a client package: the two JSON endpoints need nothing more, and the core gains no
dependency. Requests run on `concurrency` threads; each is tried up to `max_attempts` times
with exponential backoff and jitter on 408/409/429/5xx, timeouts and connection errors (see
`.retry`); other 4xx answers fail at once with the server's message. A request that still
fails is a Completion with `error` and joins `self.failures`, the ledger of the generator's
life. Reasoning is kept from `reasoning_content`/`reasoning` or split off inline output (see
`.reasoning`).

Options: `base_url` (default $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1), `model` (default:
the server's first model from /models), `api_key` (default: the variable `api_key_env` names,
OPENAI_API_KEY), `concurrency` (8), `timeout` (seconds a try may wait on the server, 300),
`max_attempts` (6), `backoff_base` (0.5 s), `backoff_max` (30 s), `constrain` (how the server
takes a request's `choices`: none, gbnf, structured_outputs or guided; see `.constraints`;
default none, which sends no constraint).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import Completion, Failure, GenerationParams, GeneratorError, Request
from .constraints import check_dialect, constraint_body
from .reasoning import split_reasoning
from .retry import RetryPolicy, Transient, parse_retry_after, retryable_status

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


class Permanent(Exception):
    """A failure another try would repeat (a 4xx, an answer that is not a completion)."""


def request_body(req: Request, params: GenerationParams, model: str,
                 constrain: str = "none") -> tuple[str, dict[str, Any]]:
    """(endpoint path, JSON body) for one request; `params.extra` goes in as is (top_k,
    repetition_penalty, chat_template_kwargs, … whatever the server takes), then the request's
    constraint in the server's `constrain` dialect."""
    body: dict[str, Any] = {"model": model, "max_tokens": params.max_tokens, "temperature": params.temperature,
                            "top_p": params.top_p}
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = list(params.stop)
    body.update(params.extra)
    body.update(constraint_body(req, constrain))
    if req.kind == "chat":
        return "/chat/completions", {**body, "messages": [dict(m) for m in req.messages]}
    return "/completions", {**body, "prompt": req.prompt}


def parse_response(req: Request, data: Any, attempts: int) -> Completion:
    """A completion from a server's JSON answer; Permanent when it is not one."""
    try:
        choice = data["choices"][0]
        if req.kind == "chat":
            message = choice["message"]
            text = message.get("content") or ""
            reasoning = message.get("reasoning_content") or message.get("reasoning")
        else:
            text, reasoning = choice["text"], None
    except (KeyError, IndexError, TypeError, AttributeError):
        raise Permanent(f"the server's answer has no completion: {json.dumps(data)[:300]}") from None
    if not isinstance(text, str):
        raise Permanent(f"the server's completion is not text: {text!r:.200}")
    if reasoning is None:
        reasoning, text = split_reasoning(text)
    usage = data.get("usage") or {}
    return Completion(req.id, text=text, reasoning=reasoning, finish_reason=choice.get("finish_reason"),
                      prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                      attempts=attempts)


class OpenAIGenerator:
    name = "openai"

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8, timeout: float = 300.0,
                 max_attempts: int = 6, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 constrain: str = "none"):
        url = urllib.parse.urlsplit(base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise GeneratorError(f"base_url {base_url!r} is not an http(s) URL")
        if concurrency < 1 or timeout <= 0:
            raise GeneratorError(f"concurrency must be >= 1 and timeout > 0 (got {concurrency}, {timeout})")
        try:
            self.retry = RetryPolicy(int(max_attempts), float(backoff_base), float(backoff_max))
        except ValueError as e:
            raise GeneratorError(str(e)) from None
        self.constrain = check_dialect(constrain)
        self.base_url = urllib.parse.urlunsplit(url).rstrip("/")
        self._url, self._path = url, url.path.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        self.concurrency, self.timeout = int(concurrency), float(timeout)
        self.failures: list[Failure] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = -1
        self.model = model if model is not None else self._served_model()

    def _served_model(self) -> str:
        """The server's first model (llama.cpp's and vLLM's servers serve one)."""
        try:
            return self._call_once("GET", "/models", None)["data"][0]["id"]
        except (Transient, Permanent, KeyError, IndexError, TypeError) as e:
            raise GeneratorError(f"cannot ask {self.base_url} for its model ({e}); give model=NAME") from None

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Completion]:
        if not requests:
            return []
        model = self.model
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():  # a forked copy has no threads
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai")
                self._pool_pid = os.getpid()
        out = list(self._pool.map(lambda r: self._one(r, params, model), requests))
        with self._lock:
            self.failures += [Failure(c.id, c.error, c.attempts) for c in out if c.error is not None]
        return out

    def close(self) -> None:
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.shutdown()
        self._pool = None

    def __getstate__(self) -> dict:
        """Picklable (process pools, Ray): threads, locks and sockets are made again on the other side."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_local", "_lock", "_pool")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _local=threading.local(), _lock=threading.Lock(), _pool=None, _pool_pid=-1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _one(self, req: Request, params: GenerationParams, model: str) -> Completion:
        path, body = request_body(req, params, model, self.constrain)
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return parse_response(req, self._call_once("POST", path, body), attempt)
            except Permanent as e:
                return Completion.failed(req.id, str(e), attempt)
            except Transient as e:
                if attempt == self.retry.max_attempts:
                    return Completion.failed(req.id, f"{e} (gave up after {attempt} tries)", attempt)
                time.sleep(self.retry.delay(attempt, e.retry_after))
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():  # never share a socket with a forked parent
            cls = http.client.HTTPSConnection if self._url.scheme == "https" else http.client.HTTPConnection
            conn = self._local.conn = cls(self._url.hostname, self._url.port, timeout=self.timeout)
            self._local.pid = os.getpid()
        return conn

    def _call_once(self, method: str, path: str, body: dict | None) -> Any:
        """One HTTP exchange -> the decoded JSON; Transient or Permanent otherwise."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        conn = self._connection()
        try:
            conn.request(method, self._path + path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except TimeoutError:
            self._drop_connection()
            raise Transient(f"no answer from {self.base_url} within {self.timeout:g} s") from None
        except (OSError, http.client.HTTPException) as e:
            self._drop_connection()
            raise Transient(f"cannot talk to {self.base_url}: {e or type(e).__name__}") from None
        if resp.status != 200:
            message = f"HTTP {resp.status} from {self.base_url}{path}: {raw[:300].decode('utf-8', 'replace')}"
            if retryable_status(resp.status):
                raise Transient(message, parse_retry_after(resp.getheader("Retry-After")))
            raise Permanent(message)
        try:
            return json.loads(raw)
        except ValueError:
            raise Permanent(f"the answer from {self.base_url}{path} is not JSON: {raw[:200]!r}") from None

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
