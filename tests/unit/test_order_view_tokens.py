"""Who may see an order in the order view: tokens, their stores, and headers no client should send."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import SettingsError, load_settings, parse_store_tokens
from streams.worker.web import OrderViewAccess

ACCESS = OrderViewAccess(
    [
        ("admin-token-0001", None),
        ("hz-token-0002", "store-hz-01"),
        ("two-token-0003", "store-hz-01"),
        ("two-token-0003", "store-sz-02"),
        ("star-and-one-0004", "store-hz-01"),
        ("star-and-one-0004", None),
    ]
)
EVERY = None


@pytest.mark.parametrize(
    ("header", "stores"),
    [
        ("Bearer admin-token-0001", EVERY),
        ("bearer admin-token-0001", EVERY),
        ("Bearer hz-token-0002", {"store-hz-01"}),
        ("Bearer two-token-0003", {"store-hz-01", "store-sz-02"}),
        ("Bearer star-and-one-0004", EVERY),  # `*` wins over a single store
        ("Bearer  hz-token-0002 ", {"store-hz-01"}),
        ("Bearer hz-token-000", "refused"),  # a prefix is not the token
        ("Bearer hz-token-00022", "refused"),
        ("Basic aHotdG9rZW4tMDAwMg==", "refused"),
        ("hz-token-0002", "refused"),  # no scheme
        ("", "refused"),
        (None, "refused"),
        ("Bearer \udcff\udcfe", "refused"),  # bytes that are not UTF-8, as aiohttp hands them over
        ("Bearer \x00admin-token-0001", "refused"),
        ("Bearer " + "x" * 10_000, "refused"),
    ],
)
def test_a_token_sees_its_stores_and_nothing_else(header: str | None, stores: object) -> None:
    scope = ACCESS.scope_of(header)
    if stores == "refused":
        assert scope is None
        return
    assert scope is not None and scope.stores == (None if stores is None else frozenset(stores))  # type: ignore[arg-type]
    assert scope.covers("store-hz-01")
    assert scope.covers("store-other") is (stores is None)


def test_without_tokens_the_view_is_open() -> None:
    open_view = OrderViewAccess([])
    assert open_view.open and open_view.scope_of(None) is not None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("store-a:tok", None),
        ("# comment\n\n*:tok\nstore-b : tok2\n", None),
        ("store-a tok", "1: expected store:token"),
        ("ok:tok\nstore a:tok", "2: expected store:token"),
        (":tok", "1: expected store:token"),
        ("store-a:", "1: the token after the colon is empty"),
        ("store-a:to k", "1: the token after the colon is empty or holds spaces"),
        ("store-a:tok\x1b", "1: the token after the colon"),
    ],
)
def test_store_token_entries_are_checked_without_quoting_the_secret(text: str, problem: str | None) -> None:
    if problem is None:
        assert parse_store_tokens(text, "line")
        return
    with pytest.raises(ValueError, match=problem) as info:
        parse_store_tokens(text, "line")
    assert "tok" not in str(info.value).replace("token", "")


def test_settings_name_the_variable_and_the_line_never_the_token(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text("# store tokens\nstore-a:sekret-123\nstore-b sekret-456\n")
    with pytest.raises(SettingsError) as info:
        load_settings(order_view_tokens_file=file)
    message = str(info.value)
    assert "POSTSALE_ORDER_VIEW_TOKENS_FILE" in message and "line 3" in message and "sekret" not in message
    with pytest.raises(SettingsError, match="POSTSALE_ORDER_VIEW_TOKENS: .*entry 2"):
        load_settings(order_view_tokens="store-a:x1,nonsense")
    for empty in ("", " ", "tok en"):
        with pytest.raises(SettingsError, match="POSTSALE_ORDER_VIEW_TOKEN: .*empty or holds spaces"):
            load_settings(order_view_token=empty)
    file.write_text("store-a:sekret-123\n*:ops-789\n")
    s = load_settings(order_view_tokens_file=file, order_view_tokens="store-b:b1,store-c:b1", order_view_token="all")
    assert sorted(s.order_view_tokens_by_scope(), key=str) == sorted(
        [("all", None), ("b1", "store-b"), ("b1", "store-c"), ("sekret-123", "store-a"), ("ops-789", None)], key=str
    )
    assert "sekret" not in repr(s) and "b1" not in repr(s)


@pytest.mark.parametrize(
    ("values", "refused"),
    [
        ({"web_host": "0.0.0.0"}, True),
        ({"web_host": "::"}, True),
        ({"web_host": "10.0.0.7"}, True),
        ({"web_host": "worker-1.postsale"}, True),
        ({"web_host": "127.0.0.1"}, False),
        ({"web_host": "127.0.0.2"}, False),
        ({"web_host": "::1"}, False),
        ({"web_host": "localhost"}, False),
        ({"web_host": "0.0.0.0", "order_view_token": "t"}, False),
        ({"web_host": "0.0.0.0", "order_view_tokens": "store-a:t"}, False),
        ({"web_host": "0.0.0.0", "order_view_tokens": ""}, True),  # set, but no token in it
        ({"web_host": "0.0.0.0", "order_view_tokens": "# none yet"}, True),
        ({"web_host": "0.0.0.0", "order_view": False}, False),
        ({"web_host": "0.0.0.0", "web_enabled": False}, False),
    ],
)
def test_off_loopback_the_order_view_needs_a_token(values: dict[str, object], refused: bool) -> None:
    problem = load_settings(**values).order_view_unguarded()
    assert (problem is not None) is refused
    if problem is not None:
        assert "POSTSALE_WEB_HOST" in problem and "POSTSALE_ORDER_VIEW_TOKEN" in problem and "\n" not in problem
