"""The policy: the shipped default reproduces the playbook's numbers; a bad file is refused with line and field;
overrides per marketplace, region and promotion change the threshold actually used; every action names the version."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import annotated_types
import pytest
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from typer.testing import CliRunner

import streams
from models.common import EventTime
from models.policy import CarrierLimits, Policy, Thresholds
from models.policy_file import PolicyError, load_policy, parse_policy
from models.yaml_file import MAX_BYTES
from streams import cli
from streams.offline.commands import replay_file
from tests.factories import (
    CST,
    DAY,
    HOUR,
    T0,
    US,
    default_policy,
    dispute,
    of_type,
    placed,
    policy_with,
    run,
    shipped,
    supplier_replied,
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("overdue_expedite_after_days", 2, id="expedite 2 days after ship-by"),
        pytest.param("overdue_switch_after_days", 4, id="switch 4 days after ship-by"),
        pytest.param("supplier_reply_window_hours", 48, id="supplier answers within 48 h"),
        pytest.param("max_reorder_attempts", 1, id="one alternative supplier"),
        pytest.param("customs_hold_escalate_after_days", 7, id="customs hold escalates after 7 days"),
        pytest.param("verification_min_working_days", 10, id="verification takes at least 10 working days"),
        pytest.param("verification_max_working_days", 30, id="verification escalates after 30 working days"),
        pytest.param("refund_within_working_days", 15, id="refund within 15 working days"),
        pytest.param("penalty_no_ship_no_cooperation", 60, id="60 points: no ship, no cooperation"),
        pytest.param("penalty_no_ship_cooperated", 24, id="24 points: no ship, cooperated"),
        pytest.param("penalty_out_of_stock_refunded", 12, id="12 points: out of stock, refunded"),
        pytest.param("return_tracking_days", 10, id="10 days to enter return tracking"),
        pytest.param("return_abandon_window_days", 30, id="30 days to abandon the return"),
        pytest.param("abandon_above_return_cost_share", 1.0, id="abandon when return costs more than the goods"),
        pytest.param("handling_time_hours", 72, id="72 h handling when the order has no ship-by"),
        pytest.param("penalty_points_apply", False, id="no points unless the marketplace deducts them"),
        pytest.param("proactive_notices", False, id="no proactive notices outside a sale"),
    ],
)
def test_shipped_default_reproduces_the_playbook(field, value):
    assert getattr(default_policy().defaults, field) == value


def test_shipped_default_marketplaces_regions_and_sales():
    policy = load_policy()
    assert policy.version == "2026.11-default"
    assert policy.defaults.calendar.country == "CN"
    for marketplace in ("taobao", "tmall", "1688"):
        assert policy.thresholds_for(marketplace, "CN", T0).thresholds.penalty_points_apply
    assert not policy.thresholds_for("aliexpress", "CN", T0).thresholds.penalty_points_apply
    assert policy.thresholds_for("1688", "CN", T0).thresholds.non_quality_return_cap_share == pytest.approx(0.10)
    d11 = policy.thresholds_for("tmall", "CN", datetime(2026, 11, 11, tzinfo=CST))
    assert d11.promotion == "double11"
    assert d11.thresholds.handling_time_hours == 12 and d11.thresholds.proactive_notices
    assert d11.thresholds.penalty_points_apply  # the marketplace override survives the promotion's


V = 'version: "bad-1"\n'


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        pytest.param(
            V + "defaults:\n  overdue_expedite_after_days: two\n",
            3,
            "defaults.overdue_expedite_after_days",
            "number",
            id="wrong type",
        ),
        pytest.param(
            V + "defaults:\n  handling_time_hours: -5\n",
            3,
            "defaults.handling_time_hours",
            "greater than 0",
            id="negative number",
        ),
        pytest.param(
            V + "defaults:\n  max_reorder_attempts: -1\n",
            3,
            "defaults.max_reorder_attempts",
            "greater than or equal",
            id="negative attempts",
        ),
        pytest.param(
            V + "defaults:\n  overdue_expedit_after_days: 2\n",
            3,
            "defaults.overdue_expedit_after_days",
            "Extra inputs",
            id="unknown (misspelt) field",
        ),
        pytest.param(
            V + "marketplaces:\n  jd:\n    calendar:\n      country: XX\n",
            5,
            "marketplaces.jd.calendar.country",
            "unknown holiday calendar",
            id="unknown calendar country",
        ),
        pytest.param(
            V + "defaults:\n  calendar:\n    timezone: Mars/Olympus\n",
            4,
            "defaults.calendar.timezone",
            "unknown time zone",
            id="unknown time zone",
        ),
        pytest.param(
            V + "marketplaces:\n  jd:\n    overdue_switch_after_days: 2\n",
            4,
            "marketplaces.jd.overdue_switch_after_days",
            "greater than overdue_expedite",
            id="switch <= expedite in an override",
        ),
        pytest.param(
            V + "regions:\n  FR:\n    overdue_expedite_after_days: 5\n",
            3,
            "regions.FR.overdue_switch_after_days",
            "greater than overdue_expedite",
            id="switch <= expedite via a region",
        ),
        pytest.param(
            V
            + "promotions:\n  - name: x\n"
            + "    starts_at: '2026-11-02T00:00:00+08:00'\n    ends_at: '2026-11-01T00:00:00+08:00'\n",
            3,
            "promotions.0",
            "ends_at must be after starts_at",
            id="promotion ending before it starts",
        ),
        pytest.param(
            V
            + "promotions:\n  - name: x\n"
            + "    starts_at: '2026-11-01T00:00:00'\n    ends_at: '2026-11-02T00:00:00+08:00'\n",
            4,
            "promotions.0.starts_at",
            "timezone",
            id="promotion with a naive start",
        ),
        pytest.param(
            V + "regions:\n  usa:\n    handling_time_hours: 3\n",
            3,
            "regions.usa.[key]",
            "pattern",
            id="region not a country code",
        ),
        pytest.param('version: "v\ndefaults: [\n', 3, "", "not valid YAML", id="not YAML at all"),
        pytest.param("- a\n- b\n", 1, "", "mapping", id="a list, not a mapping"),
        pytest.param("defaults: {}\n", 1, "version", "required", id="no version"),
    ],
)
def test_bad_policy_is_refused_with_line_and_field(text, line, field, words):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="store.yaml")
    problems = caught.value.problems
    assert (problems[0][0], problems[0][1]) == (line, field)
    assert words in problems[0][2]
    assert "store.yaml" in str(caught.value) and f"line {line}" in str(caught.value)


def test_every_problem_is_listed():
    with pytest.raises(PolicyError) as caught:
        parse_policy(V + "defaults:\n  handling_time_hours: -5\n  evidence_wait_days: x\n")
    assert [(line, field) for line, field, _ in caught.value.problems] == [
        (3, "defaults.handling_time_hours"),
        (4, "defaults.evidence_wait_days"),
    ]


def test_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


def test_a_policy_file_round_trips(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(V + "defaults:\n  overdue_switch_after_days: 5\n", encoding="utf-8")
    policy = load_policy(path)
    assert policy.version == "bad-1" and policy.defaults.overdue_switch_after_days == 5


def test_the_model_refuses_contradictions_outside_files_too():
    with pytest.raises(ValidationError, match="overdue_switch_after_days"):
        Policy.model_validate({"version": "x", "defaults": {"overdue_switch_after_days": 1}})


# ---------------------------------------------------------------- overrides change what the engine does

SB = T0 + 3 * DAY


def switched_at(policy, **placed_kw):
    # unanswered, the 48 h reply window after the +2d expedite would switch at +4d on its own (and decide it
    # under supplier_unresponsive); the supplier answers an hour after the expedite, so only overdue_switch's
    # own timing counts here
    events = [
        placed(order_id="K1", ship_by=SB, **placed_kw),
        supplier_replied(order_id="K1", at=SB + 2 * DAY + HOUR),
    ]
    actions = run(events, until=SB + 10 * DAY, policy=policy)
    assert not of_type(actions, "reorder", "supplier_unresponsive")
    return [a.decided_at for a in of_type(actions, "reorder", "overdue_switch")][:1]


@pytest.mark.parametrize(
    ("policy", "placed_kw", "expected"),
    [
        pytest.param(None, {"marketplace": "jd"}, [SB + 4 * DAY], id="default: switch at +4d"),
        pytest.param(
            policy_with({"overdue_switch_after_days": 3}),
            {"marketplace": "jd"},
            [SB + 3 * DAY],
            id="defaults 3: a day earlier",
        ),
        pytest.param(
            policy_with(marketplaces={"jd": {"overdue_switch_after_days": 3}}),
            {"marketplace": "jd"},
            [SB + 3 * DAY],
            id="marketplace override 3 days",
        ),
        pytest.param(
            policy_with(marketplaces={"jd": {"overdue_switch_after_days": 3}}),
            {"marketplace": "pdd"},
            [SB + 4 * DAY],
            id="another marketplace's override does not apply",
        ),
        pytest.param(
            policy_with({"supplier_reply_window_hours": 96}, regions={"FR": {"overdue_switch_after_days": 5}}),
            {"marketplace": "jd", "dest": "FR"},
            [SB + 5 * DAY],
            id="region override by destination",
        ),
        pytest.param(
            policy_with(
                {"supplier_reply_window_hours": 96},
                marketplaces={"jd": {"overdue_switch_after_days": 3}},
                regions={"FR": {"overdue_switch_after_days": 5}},
            ),
            {"marketplace": "jd", "dest": "FR"},
            [SB + 5 * DAY],
            id="region wins over marketplace",
        ),
        pytest.param(
            policy_with(
                regions={"FR": {"overdue_switch_after_days": 5}},
                promotions=[
                    {
                        "name": "spring",
                        "starts_at": "2026-03-01T00:00:00+08:00",
                        "ends_at": "2026-03-03T00:00:00+08:00",
                        "overrides": {"overdue_switch_after_days": 2.5},
                    }
                ],
            ),
            {"marketplace": "jd", "dest": "FR"},
            [SB + 2.5 * DAY],
            id="promotion wins over region",
        ),
    ],
)
def test_override_changes_the_threshold_used(policy, placed_kw, expected):
    assert switched_at(policy, **placed_kw) == expected


def test_thresholds_are_resolved_at_placement_time():
    # an order placed before a sale keeps the normal thresholds even when events arrive during it
    policy = policy_with(
        promotions=[
            {
                "name": "flash",
                "starts_at": "2026-03-03T00:00:00+08:00",
                "ends_at": "2026-03-10T00:00:00+08:00",
                "overrides": {"handling_time_hours": 6, "proactive_notices": True},
            }
        ],
        version="flash-1",
    )
    actions = run([placed(order_id="K2", marketplace="jd"), shipped(order_id="K2", at=T0 + 2 * DAY)], policy=policy)
    assert not [a for a in actions if a.rule == "promotion"]
    inside = run([placed(order_id="K3", marketplace="jd", at=T0 + DAY)], policy=policy)
    assert [a.notice for a in inside if a.rule == "promotion"] == ["promotion_shipping_time"]


def test_in_transit_estimate_override_for_a_region():
    events = [placed(order_id="K4", marketplace="aliexpress", dest="DE"), shipped(order_id="K4", at=T0 + HOUR)]
    probe = dispute("in_transit", order_id="K4", at=T0 + HOUR + 10 * DAY + US)
    tight = policy_with(regions={"DE": {"delivery_estimate_days_international": 10}})
    assert [a.type for a in run([*events, probe], policy=tight) if a.rule == "dispute_reasons"] == ["refund"]
    assert [a.type for a in run([*events, probe]) if a.rule == "dispute_reasons"] == ["notify_customer"]


def test_every_action_carries_the_policy_version():
    policy = policy_with(version="store-7.3")
    events = [
        placed(order_id="K5", marketplace="tmall", ship_by=SB),
        dispute("in_transit", order_id="K5", at=SB + DAY),
    ]
    actions = run(events, until=SB + 60 * DAY, policy=policy)
    assert len(actions) >= 5
    assert {a.policy_version for a in actions} == {"store-7.3"}
    assert {a.policy_version for a in run(events, until=SB + 60 * DAY)} == {"2026.11-default"}


def _window_by_comparison(policy: Policy, marketplace: str, at: datetime) -> str | None:
    """What `promotion_at` must answer: the first window with starts_at <= at < ends_at, compared as instants."""
    for promo in policy.promotions:
        if promo.starts_at <= at < promo.ends_at and (promo.marketplaces is None or marketplace in promo.marketplaces):
            return promo.name
    return None


@pytest.mark.parametrize("marketplace", ["tmall", "shopify", "aliexpress", "jd"])
def test_promotion_windows_are_found_to_the_microsecond_in_any_offset(marketplace):
    policy = default_policy()
    parsed = TypeAdapter(EventTime)  # the edge's times: a shared `timezone` per offset
    for promo in policy.promotions:
        for edge in (promo.starts_at, promo.ends_at):
            for shift in (timedelta(microseconds=-1), timedelta(0), timedelta(microseconds=1)):
                for offset in (-5, 0, 8, 14):
                    at = (edge + shift).astimezone(timezone(timedelta(hours=offset)))
                    expected = _window_by_comparison(policy, marketplace, at)
                    assert policy.promotion_at(marketplace, at) == expected
                    assert policy.promotion_at(marketplace, parsed.validate_python(at.isoformat())) == expected
                    # pydantic's own TzInfo, as a state decoded from a table has it
                    decoded = TypeAdapter(datetime).validate_python(at.isoformat())
                    assert policy.promotion_at(marketplace, decoded) == expected


# ---------------------------------------------------------------- what a policy file may not hold

DEEP = "defaults:\n" + "".join("  " * i + f"  k{i}:\n" for i in range(1, 30)) + "  " * 30 + "  x: 1\n"
DEEP_FIELD = "defaults." + ".".join(f"k{i}" for i in range(1, 20))  # the 20th mapping opens at k19


@pytest.mark.parametrize(
    ("raw", "line", "field", "words"),
    [
        pytest.param(
            (V + "defaults:\n  handling_time_hours: 1e9\n").encode(),
            3,
            "defaults.handling_time_hours",
            "less than or equal to 8760",
            id="a number no store needs (replay once overflowed on it)",
        ),
        pytest.param(
            (V + "marketplaces:\n  jd:\n    retain_closed_days: .inf\n").encode(),
            4,
            "marketplaces.jd.retain_closed_days",
            "finite number",
            id="infinity",
        ),
        pytest.param(
            (V + "defaults:\n  evidence_wait_days: .nan\n").encode(),
            3,
            "defaults.evidence_wait_days",
            "finite",
            id="nan",
        ),
        pytest.param(
            (
                V + "promotions:\n  - name: x\n    starts_at: '2026-11-01T00:00:00+08:00'\n"
                "    ends_at: '9999-12-31T23:59:59-14:00'\n"
            ).encode(),
            5,
            "promotions.0.ends_at",
            "between 1970-01-01 and 3000-01-01",
            id="a promotion ending after any date",
        ),  # fmt: skip
        pytest.param(
            (V + "defaults:\n  evidence_wait_days: 3\n  handling_time_hours: 24\n  evidence_wait_days: 9\n").encode(),
            5,
            "defaults.evidence_wait_days",
            "duplicate key: at line 3 and again at line 5",
            id="a key given twice names both lines",
        ),
        pytest.param((V + DEEP).encode(), 22, DEEP_FIELD, "nested deeper than 20", id="deep nesting"),
        pytest.param(
            (V + "defaults:\n  handling_time_hours: 7\xff2\n").encode("latin-1"),
            3,
            "defaults.handling_time_hours",
            "not UTF-8 text (byte 0xff)",
            id="not UTF-8",
        ),
        pytest.param(
            (V + "defaults: !!python/object/apply:os.system ['true']\n").encode(),
            2,
            "defaults",
            "tags",
            id="a Python tag",
        ),
        pytest.param(
            (V + "defaults: &d {handling_time_hours: 7}\nregions:\n  FR: *d\n").encode(),
            2,
            "defaults",
            "anchors",
            id="an anchor (alias bombs start here)",
        ),
        pytest.param(
            (V + "defaults:\n  x: \x1b[2J\n").encode(), 3, "", "U+001B is not allowed", id="control character"
        ),
        pytest.param(
            (V + "defaults:\n  handling_time_hours: 2026-13-45\n").encode(),
            3,
            "defaults.handling_time_hours",
            "cannot read this value",
            id="a date YAML cannot build",
        ),
    ],
)
def test_what_no_hand_written_policy_holds_is_refused_in_one_line(tmp_path, raw, line, field, words):
    path = tmp_path / "store.yaml"
    path.write_bytes(raw)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.problems[0] == (line, field, caught.value.problems[0][2])
    assert words in caught.value.problems[0][2]
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and f"line {line}, " in message
    assert message.isprintable()


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.write(V.encode())
        f.write(b"# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(PolicyError, match="larger than 512 KiB") as caught:
        load_policy(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(PolicyError, match="larger than 512 KiB"):
        parse_policy(path.read_text(), source="huge.yaml")


def test_policy_check_refuses_a_number_past_its_bound_with_line_and_field(tmp_path):
    path = tmp_path / "store.yaml"
    path.write_text(V + "defaults:\n  handling_time_hours: 1e9\n", encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["policy-check", str(path)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "line 3, defaults.handling_time_hours: Input should be less than or equal to 8760" in said
    assert "Traceback" not in result.output


def _numeric_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    numeric = {int, float, timedelta, int | None, float | None, timedelta | None}
    return {name: f for name, f in model.model_fields.items() if f.annotation in numeric}


def _upper_bound(info: FieldInfo) -> float | None:
    """The field's inclusive upper bound (`le`) as a number (seconds for a duration)."""
    for m in info.metadata:
        if isinstance(m, annotated_types.Le):
            return m.le.total_seconds() if isinstance(m.le, timedelta) else float(m.le)
    return None


@pytest.mark.parametrize("model", [Thresholds, CarrierLimits])
def test_every_number_in_the_policy_has_an_upper_bound(model):
    fields = _numeric_fields(model)
    assert len(fields) >= 3
    assert [name for name, info in fields.items() if _upper_bound(info) is None] == []


def _at_bounds(model: type[BaseModel]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, info in _numeric_fields(model).items():
        bound = _upper_bound(info)
        assert bound is not None
        values[name] = int(bound) if info.annotation in (int, int | None) else bound  # a duration: seconds
    return values


def test_every_number_at_its_bound_replays_the_shipped_sample(tmp_path):
    """The largest thresholds a file may hold: every deadline they give is a date the engine can compute, and the
    clock run ten years past the sample fires them all without an overflow."""
    thresholds = _at_bounds(Thresholds)
    thresholds["overdue_expedite_after_days"] = (
        float(thresholds["overdue_switch_after_days"]) - 1
    )  # expedite comes first
    thresholds["carrier_limits"] = _at_bounds(CarrierLimits)
    document = {
        "version": "max",
        "defaults": thresholds,
        "marketplaces": {m: thresholds for m in ("tmall", "taobao", "1688", "aliexpress", "shopify")},
        "promotions": [
            {"name": "always", "starts_at": "1970-01-02T00:00:00Z", "ends_at": "2999-12-31T00:00:00Z",
             "overrides": thresholds},
        ],
    }  # fmt: skip
    path = tmp_path / "max.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(document))), encoding="utf-8")  # no anchors
    policy = load_policy(path)
    sample = Path(streams.__file__).parent / "samples" / "day.jsonl"
    bad: list[object] = []
    out = io.BytesIO()
    result = replay_file(sample, policy, out=out, on_bad=bad.append, until=datetime(2037, 1, 1, tzinfo=UTC))
    assert bad == []
    decided = [json.loads(line) for line in out.getvalue().splitlines()]
    assert decided and result is not None
    assert {a["policy_version"] for a in decided} == {"max"}
    assert max(a["decided_at"] for a in decided) > "2027"  # deadlines a year out fired too


def test_a_file_wrong_everywhere_lists_its_first_twenty_problems_and_counts_the_rest():
    with pytest.raises(PolicyError) as caught:
        parse_policy(V + "defaults:\n" + "".join(f"  k{i}: 1\n" for i in range(30)), source="store.yaml")
    assert [line for line, _, _ in caught.value.problems] == list(range(3, 23))
    assert str(caught.value).startswith("policy store.yaml is invalid (30 problems):")
    assert str(caught.value).endswith("\n  and 10 more")


def test_a_misspelt_marketplace_is_refused_with_the_known_names() -> None:
    from models.policy_file import parse_policy

    for text in (
        "version: x\nmarketplaces:\n  tmal: {penalty_points_apply: true}\n",
        "version: x\npromotions:\n  - {name: s, starts_at: '2026-11-01T00:00:00+08:00', "
        "ends_at: '2026-11-12T00:00:00+08:00', marketplaces: [taoboa]}\n",
    ):
        with pytest.raises(PolicyError) as refused:
            parse_policy(text, "p.yaml")
        message = str(refused.value)
        assert "unknown marketplace" in message and "tmall" in message and "line " in message
