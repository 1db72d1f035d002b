"""Generation throughput: the `openai` generator against llama.cpp's local server (the bundled
SmolLM2-135M-Instruct), and the time of a fully cached rerun.

    python benchmarks/generation_throughput.py [--requests 48] [--max-tokens 16] [--cached 1000]

For each concurrency (1, 4, 16) the same fixed set of short chat prompts is sent (temperature 0,
`--max-tokens` at most): prompts/s, completion tokens/s and mean latency per request. Then
`--cached` distinct requests are answered once through the response cache (max_tokens 1, to
keep the fill short) and asked again: the rerun must be answered wholly from the cache (target
<= 2 s for 1,000). llama-cpp-python's server runs one request at a time, so concurrency only
overlaps the client's and HTTP's share with the model's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from codealchemy.tracer.generators import GenerationParams, Request
from codealchemy.tracer.generators.cache import with_cache
from codealchemy.tracer.generators.llamacpp import LlamaServer
from codealchemy.tracer.generators.openai import OpenAIGenerator

TOPICS = ["a list", "a loop", "recursion", "a hash map", "a stack", "a queue", "a tree", "a graph",
          "sorting", "a closure", "an exception", "a thread", "a file", "a string", "an integer", "a class"]


def prompts(n: int) -> list[Request]:
    return [Request.user(str(i), f"In one sentence, what is {TOPICS[i % len(TOPICS)]} in programming? ({i})")
            for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=48, help="requests per concurrency level")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--cached", type=int, default=1000, help="requests in the cached rerun")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the cores, at most 8)")
    args = ap.parse_args()

    params = GenerationParams(max_tokens=args.max_tokens, temperature=0.0, seed=0)
    requests = prompts(args.requests)
    with LlamaServer(n_threads=args.threads) as server:
        print(f"model {server.model}, llama.cpp threads {server.n_threads}, {os.cpu_count()} cores, "
              f"{args.requests} requests per level, max_tokens {args.max_tokens}")
        client = dict(model=server.model, base_url=server.base_url, api_key="")
        warm = OpenAIGenerator(**client, concurrency=1)  # the first requests after a start are many times slower
        for r in requests[:4]:
            warm.generate([r], params)
        print(f"{'concurrency':>11} {'prompts/s':>10} {'tokens/s':>9} {'latency s':>10} {'failed':>7}")
        for c in args.concurrency:
            with OpenAIGenerator(**client, concurrency=c) as gen:
                start = time.monotonic()
                out = gen.generate(requests, params)
                took = time.monotonic() - start
            tokens = sum(x.completion_tokens or 0 for x in out)
            # latency: the time each request was in flight, on average, is took * concurrency / n
            print(f"{c:>11} {len(out) / took:>10.2f} {tokens / took:>9.1f} {took * min(c, len(out)) / len(out):>10.2f} "
                  f"{sum(not x.ok for x in out):>7}")

        with tempfile.TemporaryDirectory() as cache_dir, OpenAIGenerator(**client, concurrency=4) as gen:
            many = prompts(args.cached)
            fill = GenerationParams(max_tokens=1, temperature=0.0, seed=0)
            start = time.monotonic()
            first = with_cache(gen, cache_dir).generate(many, fill)
            filled = time.monotonic() - start
            start = time.monotonic()
            again = with_cache(gen, cache_dir).generate(many, fill)
            rerun = time.monotonic() - start
            from_cache = sum(x.cached for x in again)
            print(f"cache: {args.cached} requests answered in {filled:.1f} s ({sum(not x.ok for x in first)} failed); "
                  f"rerun {rerun:.3f} s, {from_cache}/{len(again)} from the cache "
                  f"({'within' if rerun <= 2.0 * args.cached / 1000 else 'OVER'} the 2 s per 1,000 target)")
    return 0 if from_cache == len(again) else 1


if __name__ == "__main__":
    sys.exit(main())
