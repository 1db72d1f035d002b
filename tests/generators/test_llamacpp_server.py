"""The `openai` and `llamacpp` generators against llama.cpp's real OpenAI-compatible server with
the bundled SmolLM2-135M-Instruct (fixtures `llama_server` / `small_model` of codealchemy.testing)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time

from codealchemy.tracer import plugins
from codealchemy.tracer.generators import GenerationParams, Request
from codealchemy.tracer.generators.cache import CachedGenerator, ResponseCache
from codealchemy.tracer.generators.llamacpp import LlamaCppGenerator
from codealchemy.tracer.generators.openai import OpenAIGenerator

SHORT = GenerationParams(max_tokens=12, temperature=0.0, seed=0)


def test_chat_and_completion_endpoints_answer_for_real(small_model, llama_server):
    assert small_model.model == llama_server.model == "smollm2-135m"
    chat, completion = small_model.generate([Request.user("c", "What is the capital of France? One word."),
                                             Request("p", prompt="def add(a, b):\n    return")], SHORT)
    assert (chat.id, completion.id) == ("c", "p") and chat.ok and completion.ok
    assert "paris" in chat.text.lower()
    for c in (chat, completion):
        assert c.text.strip() and c.finish_reason in ("stop", "length") and c.prompt_tokens > 0
        assert 0 < c.completion_tokens <= SHORT.max_tokens and c.reasoning is None and not c.has_reasoning
    assert completion.prompt_tokens < chat.prompt_tokens  # no chat template around the raw prompt


def test_concurrent_requests_come_back_in_order_each_with_its_own_answer(small_model, llama_server):
    requests = [Request.user(str(i), f"Say the number {i} in words.") for i in range(8)]
    together = small_model.generate(requests, SHORT)
    alone = OpenAIGenerator(model=llama_server.model, base_url=llama_server.base_url, api_key="", concurrency=1)
    one_by_one = [alone.generate([r], SHORT)[0] for r in requests[:3]]
    assert [c.id for c in together] == [r.id for r in requests] and all(c.ok for c in together)
    assert [c.text for c in together[:3]] == [c.text for c in one_by_one]  # temperature 0: each its own answer
    assert len({c.text for c in together}) > 1


def test_a_request_the_server_refuses_fails_alone_and_joins_the_ledger(small_model):
    out = small_model.generate([Request.user("ok", "Hi"), Request.user("huge", "word " * 5000)], SHORT)
    assert out[0].ok and not out[1].ok and "HTTP 400" in out[1].error and out[1].attempts == 1
    assert [f.id for f in small_model.failures] == ["huge"]


def test_a_cached_rerun_asks_the_server_nothing(small_model, llama_server, tmp_path):
    requests = [Request.user(str(i), f"Name a color, number {i}.") for i in range(6)]
    first = CachedGenerator(small_model, ResponseCache(tmp_path)).generate(requests, SHORT)
    assert all(c.ok and not c.cached for c in first)
    # the same model name on a port where nothing listens: every answer must come from the cache
    dead = OpenAIGenerator(model=llama_server.model, base_url="http://127.0.0.1:9/v1", max_attempts=1)
    dead.name = small_model.name
    start = time.monotonic()
    again = CachedGenerator(dead, ResponseCache(tmp_path)).generate(requests, SHORT)
    assert time.monotonic() - start < 1.0
    assert [(c.id, c.text, c.cached) for c in again] == [(c.id, c.text, True) for c in first]


def test_llamacpp_generator_starts_its_server_on_first_use_and_stops_it(tmp_path):
    gen = plugins.generators()["llamacpp"](n_ctx=1024)
    assert isinstance(gen, LlamaCppGenerator) and gen.server.process is None  # nothing started yet
    [c] = gen.generate([Request.user("a", "What is 2+2?")], SHORT)
    assert c.ok and c.text.strip() and gen.model == "smollm2-135m"
    proc = gen.server.process
    assert proc.poll() is None
    copy = pickle.loads(pickle.dumps(gen))  # what a pool worker gets: the same server, not its owner
    assert copy.generate([Request.user("b", "What is 2+2?")], SHORT)[0].text == c.text
    copy.close()
    assert proc.poll() is None
    gen.close()
    assert proc.poll() is not None and gen.server.base_url is None


OWNER = """
import os, signal, sys
from codealchemy.tracer.generators.llamacpp import LlamaServer
server = LlamaServer(n_ctx=512).start()
print(server.process.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_server_does_not_outlive_a_killed_owner():
    owner = subprocess.run([sys.executable, "-c", OWNER], capture_output=True, text=True, timeout=180)
    assert owner.returncode == -9, owner.stderr
    pid = int(owner.stdout)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, waiting for init to reap it
