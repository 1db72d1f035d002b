"""The response cache: rerun costs nothing, failures are retried, processes share it, a killed
run resumes. The wrapped generator here is a counting double (a unit test of the cache's logic;
the real llama.cpp server runs behind it in test_llamacpp_server.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from codealchemy.tracer.generators import Completion, GenerationParams, Request
from codealchemy.tracer.generators.cache import (
    CACHE_FILE,
    CachedGenerator,
    ResponseCache,
    cache_key,
    default_cache_dir,
    with_cache,
)


class Counting:
    """Answers each request with its upper-cased text, fails the ones that contain 'bad'."""

    name, model = "counting", "m1"

    def __init__(self):
        self.asked: list[str] = []

    def generate(self, requests, params):
        self.asked += [r.text() for r in requests]
        return [Completion.failed(r.id, "bad one", 3) if "bad" in r.text()
                else Completion(r.id, text=r.text().upper(), reasoning="r", prompt_tokens=1, completion_tokens=2)
                for r in requests]


def test_a_rerun_is_answered_from_the_cache_and_failures_are_asked_again(tmp_path):
    inner = Counting()
    gen = CachedGenerator(inner, ResponseCache(tmp_path))
    reqs = [Request.user("1", "a"), Request.user("2", "b"), Request.user("3", "bad"), Request.user("4", "a")]
    first = gen.generate(reqs, GenerationParams())
    assert inner.asked == ["a", "b", "bad"]  # the duplicate "a" asked once
    assert [(c.id, c.text, c.cached, c.ok) for c in first] == [("1", "A", False, True), ("2", "B", False, True),
                                                               ("3", "", False, False), ("4", "A", False, True)]
    again = gen.generate([Request.user("x", "b"), Request.user("y", "bad"), Request.user("z", "a")], GenerationParams())
    assert inner.asked == ["a", "b", "bad", "bad"]  # only the failure was asked again
    assert [(c.id, c.text, c.cached) for c in again] == [("x", "B", True), ("y", "", False), ("z", "A", True)]
    assert again[0].reasoning == "r" and again[0].completion_tokens == 2 and len(gen.cache) == 2


def test_the_key_is_generator_model_params_and_messages_not_the_id():
    p = GenerationParams()
    base = cache_key("g", "m", p, Request.user("1", "hi"))
    assert base == cache_key("g", "m", p, Request.user("other id", "hi"))
    assert len({base, cache_key("h", "m", p, Request.user("1", "hi")), cache_key("g", "m2", p, Request.user("1", "hi")),
                cache_key("g", "m", GenerationParams(temperature=0.5), Request.user("1", "hi")),
                cache_key("g", "m", GenerationParams(extra={"top_k": 2}), Request.user("1", "hi")),
                cache_key("g", "m", p, Request("1", prompt="hi")),
                cache_key("g", "m", p, Request.user("1", "hi", system="s"))}) == 7


def test_disabled_and_default_directory(tmp_path, monkeypatch):
    inner = Counting()
    assert with_cache(inner, enabled=False) is inner
    monkeypatch.setenv("CODEALCHEMY_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    gen = with_cache(inner)
    gen.generate([Request.user("1", "a")], GenerationParams())
    assert (tmp_path / "c" / CACHE_FILE).exists() and (gen.name, gen.model) == ("counting", "m1")


WORKER = textwrap.dedent("""
    import json, os, signal, sys
    from codealchemy.tracer.generators import Completion, GenerationParams, Request
    from codealchemy.tracer.generators.cache import CachedGenerator, ResponseCache

    class Counting:
        name, model = "counting", "m1"
        def generate(self, requests, params):
            print(json.dumps([r.text() for r in requests]), flush=True)
            return [Completion(r.id, text=r.text().upper()) for r in requests]

    directory, first, count, kill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "kill"
    gen = CachedGenerator(Counting(), ResponseCache(directory))
    for i in range(first, first + count, 10):
        gen.generate([Request.user(str(j), f"p{j}") for j in range(i, min(i + 10, first + count))], GenerationParams())
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
""")


def _worker(tmp_path, *args):
    return subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), *map(str, args)], stdout=subprocess.PIPE,
                            text=True)


def test_processes_share_the_cache_and_a_killed_run_resumes(tmp_path):
    workers = [_worker(tmp_path, start, 100, "no") for start in (0, 100, 200, 300)]
    for w in workers:
        w.communicate()
        assert w.returncode == 0
    assert len(ResponseCache(tmp_path)) == 400
    killed = _worker(tmp_path, 400, 30, "kill")
    killed.communicate()
    assert killed.returncode == -9
    resumed = _worker(tmp_path, 390, 60, "no")
    out, _ = resumed.communicate()
    asked = [p for line in out.splitlines() for p in json.loads(line)]
    assert asked == [f"p{j}" for j in range(430, 450)]  # everything the killed run finished came from the cache
    assert len(ResponseCache(tmp_path)) == 450


def test_a_pickled_cache_opens_its_own_connection(tmp_path):
    import pickle

    gen = CachedGenerator(Counting(), ResponseCache(tmp_path))
    gen.generate([Request.user("1", "a")], GenerationParams())
    copy = pickle.loads(pickle.dumps(gen))
    assert copy.generate([Request.user("2", "a")], GenerationParams())[0].cached and len(copy.cache) == 1
