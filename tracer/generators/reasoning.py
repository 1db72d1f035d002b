"""A model's thinking told apart from its answer, whatever form the server returns it in.

Servers with a reasoning parser hand it over apart (`reasoning_content`, `reasoning`); without
one it is inline: gpt-oss's harmony channels (analysis = thinking, final = answer), the same
with the special tokens stripped ("analysis…assistantfinal…"), or a <think>…</think> block
(DeepSeek-R1, Qwen3), whose opening tag may sit in the prompt's chat template."""

from __future__ import annotations

import re

_HARMONY_SEGMENT = re.compile(
    r"<\|channel\|>(?P<channel>\w+)[^<]*(?:<\|constrain\|>[^<]*)?<\|message\|>(?P<body>.*?)"
    r"(?=<\|end\|>|<\|return\|>|<\|call\|>|<\|start\|>|\Z)", re.S)
_HARMONY_STRIPPED = re.compile(r"\Aanalysis(?P<analysis>.*?)assistantfinal(?P<final>.*)\Z", re.S)


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(reasoning or None, answer) from a raw completion."""
    if "<|channel|>" in text:
        reasoning, final = [], []
        for m in _HARMONY_SEGMENT.finditer(text):
            (final if m["channel"] == "final" else reasoning).append(m["body"])
        return ("\n".join(reasoning) or None), "".join(final)
    m = _HARMONY_STRIPPED.match(text)
    if m:
        return m["analysis"], m["final"]
    stripped = text.lstrip()
    if stripped.startswith("<think>"):
        reasoning, closed, answer = stripped[len("<think>"):].partition("</think>")
        return reasoning, answer.lstrip("\n") if closed else ""
    head, closed, answer = text.partition("</think>")
    if closed and "<think>" not in head:
        return head, answer.lstrip("\n")
    return None, text
