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
