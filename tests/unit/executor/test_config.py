"""executor.yaml: valid files load; every mistake names its line and field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.executor.config import ConfigError, DryRunEndpoint, load_config, parse_config, resolve_secrets
from tests.unit.executor.factories import SECRET

GOOD = """\
endpoints:
  default:
    kind: dry_run
  refund:
    kind: webhook
    url: https://pay.example.com/hooks/postsale
    secret_env: POSTSALE_WEBHOOK_SECRET
    timeout_seconds: 5
stores:
  store-hz-01:
    secret_env: POSTSALE_SECRET_HZ01
    url: https://hz01.example.com/refunds
retry:
  max_attempts: 4
breaker:
  limits:
    USD: {single: 500, per_hour: 2000, min_hourly_baseline: 50}
  stores:
    store-hz-01:
      limits:
        CNY: {single: 3000, per_hour: 10000}
"""


def test_good_config_loads_with_store_overrides() -> None:
    cfg = parse_config(GOOD)
    assert cfg.target("refund", "store-hz-01") == ("https://hz01.example.com/refunds", "POSTSALE_SECRET_HZ01")
    assert cfg.target("refund", "store-other") == ("https://pay.example.com/hooks/postsale", "POSTSALE_WEBHOOK_SECRET")
    assert cfg.target("reorder", "store-hz-01") is None
    assert isinstance(cfg.endpoint_for("expedite"), DryRunEndpoint)
    assert cfg.retry.max_attempts == 4
    limits, multiple = cfg.breaker.for_store("store-hz-01", "CNY")
    assert limits is not None and limits.single == Decimal("3000") and multiple == 5.0
    assert cfg.breaker.for_store("store-hz-01", "USD")[0] == cfg.breaker.limits["USD"]
    assert cfg.breaker.for_store("store-x", "EUR")[0] is None
    assert cfg.secret_names() == {"POSTSALE_WEBHOOK_SECRET", "POSTSALE_SECRET_HZ01"}


def test_no_endpoint_at_all_means_dry_run() -> None:
    cfg = parse_config("endpoints: {}\n")
    assert cfg.target("refund", "s") is None


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (GOOD.replace("timeout_seconds: 5", "timeout_seconds: .nan"), 8, "endpoints.refund.timeout_seconds", "finite"),
        (GOOD.replace("breaker:\n", "breaker:\n  max_rate_multiple: .inf\n"), 16, "breaker.max_rate_multiple",
         "finite"),
        (GOOD.replace("breaker:\n", "breaker:\n  max_rate_multiple: 1e6\n"), 16, "breaker.max_rate_multiple",
         "less than or equal to 1000"),
        (GOOD.replace("timeout_seconds: 5", "ca_file: /nonexistent/ca.pem"), 8, "endpoints.refund.ca_file",
         "cannot be read as a PEM CA bundle"),
        (GOOD.replace("timeout_seconds: 5", "ca_file: /etc/hostname"), 8, "endpoints.refund.ca_file",
         "cannot be read as a PEM CA bundle"),
    ],
)  # fmt: skip
def test_values_that_would_fail_at_the_first_refund_are_refused_at_start(
    text: str, line: int, field: str, message: str
) -> None:
    # A NaN multiple makes the breaker's comparison raise; an unreadable CA bundle fails the first delivery.
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="executor.yaml")
    assert [(ln, f) for ln, f, m in info.value.problems if message in m] == [(line, field)], info.value.problems


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (GOOD.replace("  refund:", "  refnud:"), 4, "endpoints.refnud", "unknown action type 'refnud'"),
        (GOOD.replace("https://pay.example.com", "http://pay.example.com"), 6, "endpoints.refund.url", "must be https"),
        (GOOD.replace("timeout_seconds: 5", "timeout_seconds: -1"), 8, "endpoints.refund.timeout_seconds", "greater"),
        (GOOD.replace("kind: dry_run", "kind: email"), 2, "endpoints.default", "does not match any of the expected"),
        (GOOD.replace("max_attempts: 4", "max_attemps: 4"), 14, "retry.max_attemps", "Extra inputs"),
        (GOOD.replace("per_hour: 2000", "per_hour: lots"), 17, "breaker.limits.USD.per_hour", "decimal"),
        (GOOD.replace("    USD:", "    usd:"), 17, "breaker.limits.usd", "String should match pattern"),
        (
            "endpoints:\n  refund:\n    kind: webhook\n    url: https://x.example\n    secret_env: S\n",
            None,
            "breaker",
            "needs refund limits",
        ),
        (
            "endpoints:\n  refund:\n    kind: webhook\n    secret_env: S\n"
            "breaker: {limits: {USD: {single: 1, per_hour: 2}}}\n",
            2,
            "endpoints.refund",
            "needs a url",
        ),
        (
            "endpoints:\n  refund:\n    kind: webhook\n    url: https://x.example\n    secret_env: lower\n"
            "breaker: {limits: {USD: {single: 1, per_hour: 2}}}\n",
            5,
            "endpoints.refund.secret_env",
            "pattern",
        ),
    ],
)
def test_errors_name_line_and_field(text: str, line: int | None, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="executor.yaml")
    problems = info.value.problems
    assert any(f == field and message in m and (line is None or ln == line) for ln, f, m in problems), problems
    assert "executor.yaml" in str(info.value)


def test_store_without_secret_is_fine_when_the_endpoint_has_one() -> None:
    # The parametrized case above only drops the store's secret: the endpoint's default still covers it.
    cfg = parse_config(GOOD.replace("    secret_env: POSTSALE_SECRET_HZ01\n", ""))
    assert cfg.target("refund", "store-hz-01") == ("https://hz01.example.com/refunds", "POSTSALE_WEBHOOK_SECRET")


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="line 3"):
        parse_config("endpoints:\n  - [\n")
    with pytest.raises(ConfigError, match="mapping"):
        parse_config("- a\n")


def test_secrets_are_read_once_and_missing_ones_are_listed() -> None:
    cfg = parse_config(GOOD)
    with pytest.raises(ConfigError, match="POSTSALE_SECRET_HZ01"):
        resolve_secrets(cfg, {"POSTSALE_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
    hz01 = "whsec_" + "SFowMQ" * 6
    secrets = resolve_secrets(cfg, {"POSTSALE_WEBHOOK_SECRET": SECRET, "POSTSALE_SECRET_HZ01": hz01})
    assert secrets["POSTSALE_SECRET_HZ01"].get_secret_value() == hz01
    assert "SFowMQ" not in repr(secrets)


@pytest.mark.parametrize(
    ("raw", "line", "field", "words"),
    [
        pytest.param(GOOD.encode().replace(b"pay.example", b"pay.\xe9xample"), 6, "endpoints.refund.url", "UTF-8",
                     id="latin-1 bytes"),
        pytest.param((GOOD + "retry:\n  max_attempts: 2\n").encode(), 22, "retry", "at line 13 and again at line 22",
                     id="a section given twice"),
        pytest.param(("endpoints:\n" + "".join("  " * i + f"  k{i}:\n" for i in range(1, 40))).encode(), 21,
                     ".".join(["endpoints", *(f"k{i}" for i in range(1, 20))]), "deeper than 20", id="deep nesting"),
        pytest.param(b"endpoints: " + b"[" * 500 + b"]" * 500, 1, "endpoints" + ".0" * 19, "deeper than 20",
                     id="a flow nesting that once overflowed the stack"),
        pytest.param(b"endpoints: !!python/object/new:os.system [true]\n", 1, "endpoints", "tags", id="a Python tag"),
        pytest.param(b"a: &a [x, x]\nb: &b [*a, *a]\nendpoints: *b\n", 1, "a", "anchors", id="an alias bomb"),
    ],
)  # fmt: skip
def test_files_no_one_writes_by_hand_are_refused_in_one_line(tmp_path, raw, line, field, words) -> None:
    path = tmp_path / "executor.yaml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0][:2] == (line, field) and words in info.value.problems[0][2]
    assert str(info.value).startswith(f"executor config {path} is invalid: line {line}, ")
    assert "\n" not in str(info.value)


def test_a_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
