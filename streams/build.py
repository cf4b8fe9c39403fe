"""Which build is running: the installed package's version, for `*_build_info` metrics and log records."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def package_version() -> str:
    """The installed postsale package's version ("unknown" when run from a source tree that is not installed)."""
    try:
        return version("postsale")
    except PackageNotFoundError:
        return "unknown"
