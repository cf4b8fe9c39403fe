"""Logging of the long-running processes (worker, executor): plain text by default, or one JSON object a line.

`POSTSALE_LOG_FORMAT=json` makes every line a JSON object, formatted by
python-json-logger: `timestamp` (ISO 8601, UTC), `level`, `logger`, `message`,
the process (`service`, `version`, `app_id`), `exc_info` for a traceback, and
whatever the call site passes in `extra=` (the executor's `action_id`,
`action_type`, `store_id`, `status`, `http_status`). Nothing about customers is
logged: call sites pass ids, types, statuses and amounts, never names,
addresses, phones or e-mails.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Literal

from pythonjsonlogger.json import JsonFormatter

from streams.build import package_version

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Record attributes a JSON line carries, renamed to the names log pipelines expect.
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
JSON_RENAMES = {"levelname": "level", "name": "logger"}
# Libraries that drown everything else at DEBUG: at most INFO for them.
NOISY = ("faust", "mode", "aiokafka", "kafka")


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so that a second set-up replaces it instead of doubling every line."""


def formatter(log_format: LogFormat, service: str, app_id: str) -> logging.Formatter:
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields=JSON_RENAMES,
        static_fields={"service": service, "version": package_version(), "app_id": app_id},
        timestamp=True,
        json_ensure_ascii=False,
    )


def configure_logging(
    level: str, log_format: LogFormat = "text", *, service: str, app_id: str, stream: IO[str] | None = None
) -> None:
    """One handler on stderr (or `stream`) at `level`. The root logger is set to it so that DEBUG records are not
    even built (Faust leaves the root at DEBUG otherwise)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(log_format, service, app_id))
    root.addHandler(handler)
    for name in NOISY:
        logging.getLogger(name).setLevel(max(logging.getLevelName(level.upper()), logging.INFO))
