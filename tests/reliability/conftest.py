"""Reliability tests share the session's broker (tests/integration/conftest.py); their figures are printed at the
end of the session (tests/conftest.py)."""

from __future__ import annotations

from tests.integration.conftest import broker  # noqa: F401 - the session fixture, re-exported
