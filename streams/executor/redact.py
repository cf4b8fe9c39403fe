"""What the executor may say in a log line about an action: ids, type and money, never its text; and about a record
it cannot use, the field and the kind of error, never a value.

Actions and the executor's own records can carry text from events (reasons, carrier notes), and pydantic's
messages quote the input (`input_value='+86 138 0000 1234'`). Logs, dead letters and error messages say
`order_id: string_too_long` instead; the record itself is kept only where it already lives (the dead-letter
topic, like the worker's).
"""

from __future__ import annotations

from pydantic import ValidationError

from models.actions import Action
from models.events import field_location


def validation_reason(exc: ValidationError) -> str:
    """`field: error_type` of the first problem (`+N more` if there are others); an unexpected key that does
    not look like a field name is shown as `<unexpected field>`."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if not errors:
        return "invalid"
    first = errors[0]
    where = field_location(first["loc"])
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or '(record)'}: {first['type']}{more}"


def summary(action: Action) -> str:
    """An action in one log line: ids, type, rule and money, never its free text (the reason can quote an
    event's)."""
    money = f" {action.party} {action.amount} {action.currency}" if action.amount is not None else ""
    return f"{action.action_id} {action.type}{money} by {action.rule} order {action.order_id} store {action.store_id}"
