"""The `vllm` generator for real, on a GPU machine with vLLM and a model at hand (this check is
not run by the test suite: the development machines have no GPU).

    pip install -e '.[vllm]'
    python benchmarks/device/vllm_check.py --model Qwen/Qwen2.5-0.5B-Instruct [--requests 256]

It asks the engine a mixed batch (chat requests, which get the model's chat template, and raw
completion prompts) through the registered generator behind the response cache, checks that
every request got a non-empty answer in order with token counts, that an over-long prompt fails
alone, and that a rerun is answered wholly from the cache; then prints prompts/s and tokens/s.
Exit status 0 when every check holds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from codealchemy.tracer import plugins
from codealchemy.tracer.generators import GenerationParams, GeneratorError, Request
from codealchemy.tracer.generators.cache import with_cache


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a Hugging Face id or a local model directory")
    ap.add_argument("--requests", type=int, default=256)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--max-model-len", type=int, default=2048)
    args = ap.parse_args()

    gen = plugins.generators()["vllm"](model=args.model, max_model_len=args.max_model_len)
    requests = [Request.user(f"c{i}", f"Write one sentence about the number {i}.") if i % 2 == 0
                else Request(f"p{i}", prompt=f"def square_{i}(x):\n    return") for i in range(args.requests)]
    requests.append(Request.user("too-long", "word " * (args.max_model_len * 2)))
    params = GenerationParams(max_tokens=args.max_tokens)
    failed = []
    with tempfile.TemporaryDirectory() as cache_dir:
        cached = with_cache(gen, cache_dir)
        start = time.monotonic()
        out = cached.generate(requests, params)
        took = time.monotonic() - start
        good = out[:-1]
        if [c.id for c in out] != [r.id for r in requests]:
            failed.append("answers out of order")
        bad = [c for c in good if not (c.ok and c.text.strip() and c.prompt_tokens and c.completion_tokens)]
        if bad:
            failed.append(f"{len(bad)} requests without a proper answer, e.g. {bad[0]}")
        if out[-1].ok:
            failed.append("the over-long prompt did not fail")
        tokens = sum(c.completion_tokens or 0 for c in good)
        print(f"vllm {args.model}: {len(good)} requests in {took:.1f} s: {len(good) / took:.1f} prompts/s, "
              f"{tokens / took:.0f} tokens/s; over-long prompt: {out[-1].error}")
        start = time.monotonic()
        again = cached.generate(requests[:-1], params)
        if not all(c.cached for c in again) or [c.text for c in again] != [c.text for c in good]:
            failed.append("the rerun was not answered from the cache")
        print(f"cached rerun of {len(again)}: {time.monotonic() - start:.2f} s")
    for f in failed:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GeneratorError as e:
        sys.exit(f"vllm_check: {e}")
