"""The LLM strategies' tests import their helpers from mixed.py, beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from mixed import mixed_corpus  # noqa: E402, F401  (the fixture, for every test here)
