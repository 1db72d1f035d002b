"""The built-in plugin: languages from the folders, the local backend."""

from __future__ import annotations

from .hookspecs import hookimpl
from .languages import builtin_languages


@hookimpl
def register_languages(register):
    for lang in builtin_languages():
        register(lang)


@hookimpl
def register_backends(register):
    from .backends.local import LocalBackend

    register("local", LocalBackend)

    def docker_backend(sandbox: str = "docker", **kw):
        from .backends.docker import DockerBackend

        return DockerBackend(sandbox=sandbox, **kw)

    register("docker", docker_backend)


@hookimpl
def register_benchmarks(register):
    from ..evals.deveval import DevEval
    from ..evals.traceeval import TraceEval

    register("traceeval", TraceEval)
    register("deveval", DevEval)


@hookimpl
def register_strategies(register):
    from ..strategies.codedev import CodeDev
    from ..strategies.codedialogue import CodeDialogue
    from ..strategies.codeenhance import CodeEnhance
    from ..strategies.codeqa import CodeQA
    from ..strategies.codetrace import CodeTrace

    register("codetrace", CodeTrace)
    register("codedialogue", CodeDialogue)
    register("codeqa", CodeQA)
    register("codeenhance", CodeEnhance)
    register("codedev", CodeDev)


@hookimpl
def register_generators(register):
    from .generators.file import FileGenerator

    register("file", FileGenerator)

    def openai_generator(**options):
        from .generators.openai import OpenAIGenerator

        return OpenAIGenerator(**options)

    register("openai", openai_generator)

    def vllm_generator(**options):
        from .generators.vllm import VLLMGenerator

        return VLLMGenerator(**options)

    register("vllm", vllm_generator)

    def llamacpp_generator(**options):
        from .generators.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(**options)

    register("llamacpp", llamacpp_generator)
