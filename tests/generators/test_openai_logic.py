"""Unit tests of the `openai` generator's logic: retry policy, request bodies, answer parsing,
reasoning split, and retry/timeout behaviour against a scripted fake server on 127.0.0.1 (the
real llama.cpp server is in test_llamacpp_server.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codealchemy.tracer.generators import Completion, Failure, GenerationParams, GeneratorError, Request
from codealchemy.tracer.generators.openai import OpenAIGenerator, parse_response, request_body
from codealchemy.tracer.generators.reasoning import split_reasoning
from codealchemy.tracer.generators.retry import RetryPolicy, parse_retry_after, retryable_status


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap_and_honours_retry_after():
    p = RetryPolicy(max_attempts=6, base=1.0, cap=8.0)
    assert [p.delay(n, rng=lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [p.delay(n, rng=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert p.delay(1, retry_after=5.0, rng=lambda: 0.0) == 5.0 and p.delay(1, retry_after=60.0) == 8.0
    assert parse_retry_after("2") == 2.0 and parse_retry_after("Wed, 21 Oct 2015") is None
    assert [s for s in (200, 400, 401, 404, 408, 422, 429, 500, 503, 599) if retryable_status(s)] == [408, 429, 500,
                                                                                                      503, 599]
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_request_body_chat_and_completion_with_params_and_extras():
    params = GenerationParams(max_tokens=7, temperature=0.5, seed=None, stop=("\n",), extra={"top_k": 3})
    path, body = request_body(Request.user("1", "hi"), params, "m")
    assert path == "/chat/completions" and body == {"model": "m", "max_tokens": 7, "temperature": 0.5, "top_p": 1.0,
                                                    "stop": ["\n"], "top_k": 3,
                                                    "messages": [{"role": "user", "content": "hi"}]}
    path, body = request_body(Request("2", prompt="x"), GenerationParams(), "m")
    assert path == "/completions" and body["prompt"] == "x" and body["seed"] == 0 and "stop" not in body


def test_reasoning_is_kept_from_every_form_servers_return():
    chat = {"choices": [{"message": {"content": "42", "reasoning_content": "6*7"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    c = parse_response(Request.user("1", "q"), chat, 2)
    assert (c.text, c.reasoning, c.finish_reason, c.prompt_tokens, c.completion_tokens, c.attempts) == (
        "42", "6*7", "stop", 3, 2, 2)
    assert c.rendered() == "<think>\n6*7\n</think>\n42"
    newer = {"choices": [{"message": {"content": None, "reasoning": "hmm"}, "finish_reason": "length"}]}
    assert (parse_response(Request.user("1", "q"), newer, 1).reasoning, parse_response(
        Request.user("1", "q"), newer, 1).text) == ("hmm", "")
    harmony = ("<|channel|>analysis<|message|>User wants 2+2.<|end|>"
               "<|start|>assistant<|channel|>final<|message|>4<|return|>")
    c = parse_response(Request("2", prompt="p"), {"choices": [{"text": harmony, "finish_reason": "stop"}]}, 1)
    assert (c.reasoning, c.text, c.has_reasoning) == ("User wants 2+2.", "4", True)
    assert split_reasoning("analysisUser wants 2+2.assistantfinal4") == ("User wants 2+2.", "4")
    assert split_reasoning("<|channel|>analysis<|message|>cut off mid-thought") == ("cut off mid-thought", "")
    assert split_reasoning("<think>\nplan\n</think>\n\nanswer") == ("\nplan\n", "answer")
    assert split_reasoning("plan</think>answer") == ("plan", "answer")  # the template opened <think>
    assert split_reasoning("<think>never closed") == ("never closed", "")
    assert split_reasoning("plain <think> talk") == (None, "plain <think> talk")
    with pytest.raises(Exception, match="no completion"):
        parse_response(Request.user("1", "q"), {"error": "x"}, 1)


class Script:
    """The fake server's behaviour: each request pops the next step; the last step repeats."""

    def __init__(self, *steps):
        self.steps, self.seen, self.lock = list(steps), [], threading.Lock()

    def next(self, path, body):
        with self.lock:
            self.seen.append((path, body))
            return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]


def ok(text="hi"):
    return 200, {"choices": [{"message": {"content": text}, "text": text, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1}}, {}


@pytest.fixture
def fake():
    servers = []

    def start(script: Script) -> str:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                self._send(200, {"data": [{"id": "fake-model"}]}, {})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                step = script.next(self.path, body)
                if step == "echo":
                    step = ok(body["messages"][0]["content"])
                if step[0] == "sleep":
                    time.sleep(step[1])
                    step = ok()
                if step[0] == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._send(*step)

            def _send(self, status, data, headers):
                raw = json.dumps(data).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


FAST = dict(backoff_base=0.01, backoff_max=0.05)


def test_5xx_429_and_dropped_connections_are_retried_then_succeed(fake):
    script = Script((503, {"error": "busy"}, {}), (429, {"error": "slow down"}, {"Retry-After": "0"}), ("drop",), ok())
    gen = OpenAIGenerator(base_url=fake(script), concurrency=1, **FAST)
    [c] = gen.generate([Request.user("a", "q")], GenerationParams())
    assert (c.ok, c.text, c.attempts) == (True, "hi", 4) and gen.failures == []
    assert gen.model == "fake-model" and [p for p, _ in script.seen] == ["/v1/chat/completions"] * 4


def test_a_4xx_fails_at_once_and_a_persistent_5xx_gives_up_into_the_ledger(fake):
    gen = OpenAIGenerator(base_url=fake(Script((400, {"error": "bad prompt"}, {}))), model="m", **FAST)
    [c] = gen.generate([Request("x", prompt="p")], GenerationParams())
    assert not c.ok and c.attempts == 1 and "HTTP 400" in c.error and "bad prompt" in c.error
    gen = OpenAIGenerator(base_url=fake(Script((500, {"error": "down"}, {}))), model="m", max_attempts=3, **FAST)
    out = gen.generate([Request.user("y", "q"), Request.user("z", "q")], GenerationParams())
    assert [(c.id, c.attempts, c.text) for c in out] == [("y", 3, ""), ("z", 3, "")]
    assert "gave up after 3 tries" in out[0].error
    assert gen.failures == [Failure("y", out[0].error, 3), Failure("z", out[1].error, 3)]


def test_a_slow_answer_times_out_per_request_and_is_retried(fake):
    script = Script(("sleep", 2.0), ok("late enough"))
    gen = OpenAIGenerator(base_url=fake(script), model="m", timeout=0.3, max_attempts=2, **FAST)
    start = time.monotonic()
    [c] = gen.generate([Request.user("a", "q")], GenerationParams())
    assert (c.ok, c.text, c.attempts) == (True, "late enough", 2)
    assert time.monotonic() - start < 1.8  # did not wait for the slow answer
    gen = OpenAIGenerator(base_url=fake(Script(("sleep", 1.0))), model="m", timeout=0.2, max_attempts=2, **FAST)
    [c] = gen.generate([Request.user("a", "q")], GenerationParams())
    assert not c.ok and "within 0.2 s" in c.error and c.attempts == 2


def test_no_server_is_a_failed_completion_per_request_and_no_model_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    gen = OpenAIGenerator(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_attempts=2, **FAST)
    [c] = gen.generate([Request.user("a", "q")], GenerationParams())
    assert not c.ok and "cannot talk to" in c.error and c.attempts == 2
    with pytest.raises(GeneratorError, match="give model=NAME"):
        OpenAIGenerator(base_url=f"http://127.0.0.1:{port}/v1", max_attempts=1)
    with pytest.raises(GeneratorError, match="not an http"):
        OpenAIGenerator(base_url="ftp://x")


def test_concurrency_keeps_the_requests_order_and_runs_them_at_once(fake):
    script = Script("echo")  # answers each chat with its own prompt
    gen = OpenAIGenerator(base_url=fake(script), model="m", concurrency=8)
    requests = [Request.user(str(i), f"prompt {i}") for i in range(40)]
    out = gen.generate(requests, GenerationParams())
    assert [(c.id, c.text) for c in out] == [(str(i), f"prompt {i}") for i in range(40)]
    assert all(isinstance(c, Completion) and c.ok for c in out) and len(script.seen) == 40
    slow = Script(("sleep", 0.3))
    gen = OpenAIGenerator(base_url=fake(slow), model="m", concurrency=8)
    start = time.monotonic()
    gen.generate([Request.user(str(i), "q") for i in range(8)], GenerationParams())
    assert time.monotonic() - start < 8 * 0.3 * 0.75  # 8 slow requests did not run one after the other
    gen.close()


def test_a_pickled_generator_works_in_another_process(fake):
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    gen = OpenAIGenerator(base_url=fake(Script("echo")), model="m", concurrency=2)
    gen.generate([Request.user("0", "before")], GenerationParams())  # threads and a connection exist now
    with ProcessPoolExecutor(1) as pool:
        out = pool.submit(pickle.loads(pickle.dumps(gen)).generate, [Request.user("1", "there")],
                          GenerationParams()).result(timeout=30)
    assert [(c.id, c.text) for c in out] == [("1", "there")]
