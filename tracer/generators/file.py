"""The `file` generator: completions made elsewhere, replayed from a JSON-lines file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from . import Completion, GenerationParams, GeneratorError, Request, prompt_sha256

COMPLETION_KEYS = ("completion", "prediction", "response", "text")


class FileGenerator:
    """Completions matched to requests by their text (`Request.text()`: the prompt, or a lone
    user message's content). Each row has `prompt` (that text) or `prompt_sha256` (its sha256),
    the completion under `completion` (or `prediction`, `response`, `text`), and optionally
    `reasoning`. A request without a row is a failed completion, unless `missing="empty"`,
    which answers it with ""."""

    name = "file"

    def __init__(self, path: str | Path | None = None, missing: str = "error"):
        if path is None:
            raise GeneratorError("the file generator needs a path (e.g. --option path=completions.jsonl)")
        if missing not in ("error", "empty"):
            raise GeneratorError(f"missing={missing!r}: use error or empty")
        self.path, self.missing = Path(path), missing
        self._by_hash: dict[str, tuple[str, str | None]] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as e:
            raise GeneratorError(f"cannot read {self.path}: {e.strerror or e}") from None
        # the file's content is the model: the response cache keys on it, so an edited file is a
        # new model and never answered from the old one's cache
        self.model = f"{self.path}@{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise GeneratorError(f"{self.path}:{n}: not a JSON object") from None
            key = row.get("prompt_sha256") or (prompt_sha256(row["prompt"]) if isinstance(row.get("prompt"), str)
                                               else None)
            completion = next((row[k] for k in COMPLETION_KEYS if isinstance(row.get(k), str)), None)
            if key is None or completion is None:
                raise GeneratorError(f"{self.path}:{n}: needs prompt (or prompt_sha256) and completion")
            reasoning = row.get("reasoning")
            self._by_hash[key] = (completion, reasoning if isinstance(reasoning, str) else None)

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Completion]:
        out = []
        for req in requests:
            key = prompt_sha256(req.text())
            found = self._by_hash.get(key)
            if found is not None:
                out.append(Completion(req.id, text=found[0], reasoning=found[1], finish_reason="stop"))
            elif self.missing == "empty":
                out.append(Completion(req.id, text="", finish_reason="stop"))
            else:
                out.append(Completion.failed(req.id, f"{self.path} has no completion for request {req.id!r} "
                                                     f"(prompt sha256 {key[:12]}…)"))
        return out
