"""Text that came from outside (events, files, the command line), made safe to show.

`visible` replaces every character that a terminal, a log viewer or an editor
would act on instead of showing — C0 and C1 control characters (ESC starts a
terminal escape sequence, CR rewrites a line, LF forges a new log line), DEL,
and the Unicode direction overrides, isolates and marks that reorder what is
read (Trojan Source) — by a visible escape such as `\\x1b` or `\\u202e`. Events'
free-text fields are passed through it when they are decoded, so what reaches a
reason, a note, a log line or a table is already inert; the terminal renderers
also escape rich markup, which only matters there.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _show(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, lines: bool = False) -> str:
    """`text` with control, direction and line-separator characters shown as escapes; anything else unchanged.
    With `lines`, a line feed stays a line break (a message of several lines of our own)."""
    if lines:
        return "\n".join(_UNSAFE.sub(_show, part) for part in text.split("\n"))
    return _UNSAFE.sub(_show, text)


FreeText = Annotated[str, AfterValidator(visible)]
"""A string field from outside whose control and direction characters are made visible when it is decoded."""
