"""Agent tests run the order agent in Faust's test context: no broker, one event loop per test.

`async def` tests here run under `asyncio.run` with a time limit (pytest-asyncio is not a dependency; the
app is built inside the test's loop, so nothing Faust creates outlives it).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

TEST_TIMEOUT_S = 30.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), TEST_TIMEOUT_S))
    return True
