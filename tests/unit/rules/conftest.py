"""Unit tests of the pure core: no broker, no event loop, no clock but the one the test passes in."""

from __future__ import annotations

import sys
from pathlib import Path

# `tests.factories` is imported from the repository root; pytest's default import mode only puts this
# directory on sys.path.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
