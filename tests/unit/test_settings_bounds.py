"""Numeric settings: nan, infinities and spans no clock can hold are refused at start-up, naming the variable."""

from __future__ import annotations

import pytest

from streams.settings import SettingsError, load_settings

FLOATS = [
    "allowed_lateness_seconds",
    "topic_idle_seconds",
    "session_timeout_seconds",
    "clock_speed",
    "tick_interval_seconds",
    "producer_linger_ms",
    "commit_interval_seconds",
]


@pytest.mark.parametrize("field", FLOATS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300"])
def test_a_number_no_clock_can_use_is_refused_by_name(field: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"POSTSALE_{field.upper()}: "):
        load_settings(**{field: float(value)})
