"""Text from outside (events, order views, policy files, arguments) on a terminal, never interpreted.

rich reads `[...]` in a plain string as markup (`[/bogus]` raises, `[link=…]`
makes a clickable link) and `:name:` as an emoji; a terminal acts on control
characters. `cell` makes a `Text` (no markup, no emoji) of the value with its
control and direction characters shown as escapes (`models.text.visible`);
`line` does the same for a message, keeping its line breaks.
"""

from __future__ import annotations

from rich.text import Text

from models.text import visible


def cell(value: object, style: str = "") -> Text:
    """A table cell or title showing `value` exactly, escapes for what a terminal would act on."""
    return Text(visible("" if value is None else str(value)), style=style)


def line(message: object, style: str = "") -> Text:
    """A message for `Console.print`, shown literally; its own line breaks are kept."""
    return Text(visible(str(message), lines=True), style=style)
