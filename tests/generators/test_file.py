"""The built-in `file` generator: replays completions made elsewhere, by the request's text."""

from __future__ import annotations

import json

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.generators import GenerationParams, Generator, GeneratorError, Request, prompt_sha256
from codealchemy.tracer.generators.cache import with_cache
from codealchemy.tracer.generators.file import FileGenerator


def test_file_generator_is_a_registered_generator_that_replays_by_request_text(tmp_path):
    assert plugins.generators()["file"] is FileGenerator
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([json.dumps({"prompt": "a", "completion": "A", "reasoning": "think a"}),
                               json.dumps({"prompt_sha256": prompt_sha256("b"), "prediction": "B"}), ""]),
                    encoding="utf-8")
    gen = FileGenerator(path=path)
    assert isinstance(gen, Generator) and gen.name == "file" and gen.model.startswith(f"{path}@")
    out = gen.generate([Request.user("1", "b"), Request("2", prompt="a"), Request.user("3", "a")], GenerationParams())
    assert [(c.id, c.text, c.ok) for c in out] == [("1", "B", True), ("2", "A", True), ("3", "A", True)]
    assert out[1].has_reasoning and out[1].rendered() == "<think>\nthink a\n</think>\nA"
    assert not out[0].has_reasoning and out[0].rendered() == "B"


def test_a_request_without_a_row_is_a_failed_completion_not_an_exception(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"prompt": "a", "completion": "A"}) + "\n", encoding="utf-8")
    out = FileGenerator(path=path).generate([Request.user("x", "a"), Request.user("y", "zzz")], GenerationParams())
    assert out[0].ok and not out[1].ok and "no completion for request 'y'" in out[1].error and out[1].text == ""
    assert FileGenerator(path=path, missing="empty").generate([Request.user("y", "zzz")],
                                                             GenerationParams())[0].text == ""


def test_file_generator_errors_are_clear(tmp_path):
    with pytest.raises(GeneratorError, match="needs a path"):
        FileGenerator()
    with pytest.raises(GeneratorError, match="cannot read"):
        FileGenerator(path=tmp_path / "none.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a"}\n', encoding="utf-8")
    with pytest.raises(GeneratorError, match="bad.jsonl:1"):
        FileGenerator(path=bad)



def test_an_edited_file_is_a_new_model_so_the_cache_never_serves_its_old_answers(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"prompt": "a", "completion": "old"}) + "\n", encoding="utf-8")
    ask = [Request.user("1", "a")]
    assert with_cache(FileGenerator(path=path), tmp_path / "cache").generate(ask, GenerationParams())[0].text == "old"
    path.write_text(json.dumps({"prompt": "a", "completion": "new"}) + "\n", encoding="utf-8")
    again = with_cache(FileGenerator(path=path), tmp_path / "cache").generate(ask, GenerationParams())[0]
    assert (again.text, again.cached) == ("new", False)
