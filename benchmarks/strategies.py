"""The LLM strategies on a small mixed corpus: rows/s per strategy and the share of rows that pass
verification, against the local llama.cpp server (the bundled SmolLM2-135M-Instruct).

    python benchmarks/strategies.py [--per-language 1] [--max-tokens 64] [--languages python,...]

The corpus is the first `--per-language` instrumenter fixtures of each language (their programs
run standalone). Each strategy (codeqa with all its templates, codeenhance with both passes,
codedev with all its tasks) processes the whole corpus in one batch, with no response cache;
its rows/s counts every row (failure rows too) over the wall time, model calls and traced runs
included. Verification: of the rows whose `verified` is not null, the share that is true; rows
that cannot be checked (null) and failure rows are counted apart. The small model's answers are
poor, so the shares measure the checking, not a good model.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from codealchemy.strategies.codedev import CodeDev
from codealchemy.strategies.codeenhance import CodeEnhance
from codealchemy.strategies.codeqa import LANGUAGES, CodeQA
from codealchemy.tracer import plugins, rows
from codealchemy.tracer.generators import GenerationParams
from codealchemy.tracer.generators.llamacpp import LlamaServer
from codealchemy.tracer.generators.openai import OpenAIGenerator
from codealchemy.tracer.testing import inputs

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = {"codeqa": CodeQA, "codeenhance": CodeEnhance, "codedev": CodeDev}


def corpus(dest: Path, languages: list[str], per_language: int) -> list[Path]:
    picked = []
    for lang_id in languages:
        lang = plugins.languages().get(lang_id)
        fixtures = sorted(p for ext in lang.extensions for p in (ROOT / "instrumenters" / lang_id / "tests" /
                                                               "fixtures").glob(f"*{ext}"))
        for p in fixtures[:per_language]:
            shutil.copy(p, dest / p.name)
            picked.append(p)
    return picked


def measure(name: str, gen, items: list, max_tokens: int) -> dict:
    strategy = STRATEGIES[name]()
    strategy.load(gen, GenerationParams(max_tokens=max_tokens))
    t0 = time.monotonic()
    try:
        got = list(strategy.process(items))
    finally:
        strategy.unload()
    wall = time.monotonic() - t0
    s = rows.summary(got)
    verified = Counter(s.get("verified", {}))
    checked = verified["true"] + verified["false"]
    return {"strategy": name, "rows": len(got), "seconds": round(wall, 1), "rows_per_s": round(len(got) / wall, 3),
            "statuses": s["by_status"], "verified_true": verified["true"], "verified_false": verified["false"],
            "unchecked": verified["none"],
            "pass_share_of_checked": round(verified["true"] / checked, 3) if checked else None,
            "by_language": s["by_language"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-language", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated language ids")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        picked = corpus(Path(tmp), a.languages.split(","), a.per_language)
        items = inputs(tmp, ("sources",))
        print(f"corpus: {len(items)} programs: {', '.join(p.relative_to(ROOT).as_posix() for p in picked)}",
              file=sys.stderr)
        with LlamaServer() as server, OpenAIGenerator(model=server.model, base_url=server.base_url, api_key="",
                                                      concurrency=1) as gen:
            for name in a.strategies.split(","):   # each as it is done: a long run shows its figures early
                print(json.dumps(measure(name, gen, items, a.max_tokens)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
