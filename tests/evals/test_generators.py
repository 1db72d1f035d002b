"""The Generator interface and the built-in `file` generator."""

from __future__ import annotations

import json

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.generators import (
    FileGenerator,
    GenerationParams,
    Generator,
    GeneratorError,
    parse_options,
    prompt_sha256,
)


def test_file_generator_is_a_registered_generator_that_replays_by_prompt(tmp_path):
    assert plugins.generators()["file"] is FileGenerator
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([json.dumps({"prompt": "a", "completion": "A"}),
                               json.dumps({"prompt_sha256": prompt_sha256("b"), "prediction": "B"}), ""]),
                    encoding="utf-8")
    gen = FileGenerator(path=path)
    assert isinstance(gen, Generator)
    assert gen.generate(["b", "a", "a"], GenerationParams()) == ["B", "A", "A"]
    with pytest.raises(GeneratorError, match="no completion for prompt 1"):
        gen.generate(["a", "zzz"], GenerationParams())
    assert FileGenerator(path=path, missing="empty").generate(["zzz"], GenerationParams()) == [""]


def test_file_generator_errors_are_clear(tmp_path):
    with pytest.raises(GeneratorError, match="needs a path"):
        FileGenerator()
    with pytest.raises(GeneratorError, match="cannot read"):
        FileGenerator(path=tmp_path / "none.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a"}\n', encoding="utf-8")
    with pytest.raises(GeneratorError, match="bad.jsonl:1"):
        FileGenerator(path=bad)


def test_params_and_options_from_key_value_pairs():
    p = GenerationParams.from_pairs(["temperature=0.7", "max_tokens=64", "stop=[\"\\n\\n\"]", "top_k=5"])
    assert (p.temperature, p.max_tokens, p.stop, p.extra) == (0.7, 64, ("\n\n",), {"top_k": 5})
    assert parse_options(["path=x.jsonl", "missing=empty", "batch-size=3"]) == {
        "path": "x.jsonl", "missing": "empty", "batch_size": 3}
    with pytest.raises(ValueError, match="not key=value"):
        GenerationParams.from_pairs(["temperature"])
