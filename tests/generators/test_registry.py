"""Every built-in generator is registered through register_generators, imported only when made."""

from __future__ import annotations

import subprocess
import sys

from codealchemy.tracer import plugins
from codealchemy.tracer.generators import Generator


def test_backends_are_registered_and_their_modules_load_only_when_made():
    code = ("import sys; from codealchemy.tracer import plugins; names = sorted(plugins.generators()); "
            "print(names, [m for m in sys.modules if m.startswith('codealchemy.tracer.generators.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # only `file` (no dependency) is imported before a generator is made
    assert out.strip() == "['file', 'llamacpp', 'openai', 'vllm'] ['codealchemy.tracer.generators.file']"
    gen = plugins.generators()["openai"](base_url="http://127.0.0.1:9/v1", model="m")
    assert isinstance(gen, Generator) and (gen.name, gen.model) == ("openai", "m")
