"""Fixtures for the TraceEval / CodeTrace tests: dumps of real Python runs (sys.settrace)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from te_programs import PYTHON  # noqa: E402
from te_pytrace import write_dump  # noqa: E402


@pytest.fixture
def py_dump(tmp_path) -> Path:
    """A dump of the sample Python programs, traced for real (ok, runtime_error, short, long)."""
    return write_dump(tmp_path / "dump", PYTHON)


@pytest.fixture(autouse=True)
def own_response_cache(tmp_path, monkeypatch):
    """Each test its own response cache (never the user's ~/.cache), subprocesses included."""
    monkeypatch.setenv("CODEALCHEMY_CACHE", str(tmp_path / "response-cache"))
