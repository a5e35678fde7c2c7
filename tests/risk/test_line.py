"""The credit line and the composition of a decision, on hand-made inputs small enough to check by eye."""

from __future__ import annotations

from typing import Any

import pytest

from chainlight.risk import line, policy
from chainlight.risk.decide import Scored, compose, policy_values

POLICY = policy.load()
LIMITS = POLICY.limits


def inputs(amount: float = 5e6, view: str = "chain", **overrides: Any) -> dict[str, Any]:
    features = {"blacklisted": 0, "tax_arrears": 0, "max_overdue_days": 0, "open_litigations": 0, "age_years": 10.0,
                "verified_turnover": 10e6, "hops_to_anchor": None, "anchor_bound_share": 0.0, "patents_granted": 0,
                "top_customer_share": 0.5, **overrides}
    return {"application_id": "A1", "uscc": "U", "requested_amount": amount, "view": view, "reason_count": 2,
            "features": features, "values": policy_values(features, view), "evidence": {}, "versions": {"policy_hash": "x"}}


def good(pd: float = 0.01) -> Scored:
    return Scored(pd, 620.0, [("void_rate", -3.0), ("age_years", 5.0), ("sales_growth", 2.0), ("province", -1.0)])


def test_base_line_is_a_share_of_verified_turnover_scaled_by_risk() -> None:
    offer = line.credit_line(LIMITS, 10e6, 0.02, [])
    expected = LIMITS.base_turnover_share * 10e6 * (1 - 0.02 / LIMITS.pd_scale)
    assert offer.limit == pytest.approx(expected // 1000 * 1000)
    assert offer.capped_by == ""


def test_line_factors_multiply_and_caps_bind() -> None:
    factors = POLICY.evaluate("line_factors", {"hops_to_anchor": 2, "anchor_bound_share": 0.8, "patents_granted": 12})
    assert [f.rule for f in factors] == ["LF01_near_anchor", "LF02_anchor_sales", "LF03_patents"]
    big = line.credit_line(LIMITS, 200e6, 0.0, factors)
    assert big.limit == LIMITS.max_line and big.capped_by == "max_line"
    rich = policy.Limits(**{**LIMITS.model_dump(), "base_turnover_share": 1.0})
    small = line.credit_line(rich, 1e6, 0.0, [])
    assert small.limit == rich.max_turnover_share * 1e6 and small.capped_by == "max_turnover_share"


def test_no_verified_turnover_no_line_and_pd_at_scale_no_line() -> None:
    assert line.credit_line(LIMITS, None, 0.01, []).limit == 0
    assert line.credit_line(LIMITS, -5.0, 0.01, []).limit == 0
    assert line.credit_line(LIMITS, 10e6, LIMITS.pd_scale, []).limit == 0


def test_approve_grants_the_smaller_of_request_and_limit() -> None:
    out = compose(POLICY, inputs(amount=100_000), good())
    assert out["decision"] == "approve" and out["amount"] == 100_000
    out = compose(POLICY, inputs(amount=50e6), good())
    assert out["decision"] == "approve" and out["amount"] == out["evidence"]["line"]["limit"] < 50e6


def test_hard_rule_declines_with_its_reason_and_trace() -> None:
    out = compose(POLICY, inputs(blacklisted=1, max_overdue_days=45), good())
    assert out["decision"] == "decline" and out["amount"] == 0
    codes = [r["code"] for r in out["reasons"] if r["direction"] == "adverse"]
    assert codes[:2] == ["BLACKLISTED", "OVERDUE_30"]
    trace = {t["rule"]: t["value"] for t in out["evidence"]["trace"]}
    assert trace["HR01_blacklist"] is True and trace["HR03_overdue_recent"] == 45 and "PD1_low" in trace


def test_pd_band_refers_and_declines() -> None:
    assert compose(POLICY, inputs(), good(0.05))["decision"] == "refer"
    assert compose(POLICY, inputs(), good(0.2))["decision"] == "decline"


def test_small_line_turns_approval_into_referral() -> None:
    strict = policy.Policy(POLICY.spec.model_copy(update={"limits": LIMITS.model_copy(update={"min_line": 500_000})}),
                           "strict.yaml", "")
    out = compose(strict, inputs(verified_turnover=3e6), good(0.02))
    assert out["evidence"]["line"]["limit"] < 500_000
    assert out["decision"] == "refer" and "LINE_TOO_SMALL" in [r["code"] for r in out["reasons"]]


def test_reasons_adverse_first_top_n_each_way_in_both_languages() -> None:
    out = compose(POLICY, inputs(hops_to_anchor=1), good())
    reasons = out["reasons"]
    directions = [r["direction"] for r in reasons]
    assert directions == sorted(directions, key=lambda d: d != "adverse")
    model = [r for r in reasons if r["code"].startswith("M_")]
    assert [r["code"] for r in model] == ["M_VOID_RATE", "M_PROVINCE", "M_AGE_YEARS", "M_SALES_GROWTH"]
    assert all(r["text_en"] and r["text_zh"] for r in reasons)
    assert "CHAIN_POSITION" in [r["code"] for r in reasons if r["direction"] == "favourable"]


def test_traditional_view_verifies_no_turnover_and_refers() -> None:
    out = compose(POLICY, inputs(view="traditional", hops_to_anchor=1), good())
    assert out["decision"] == "refer" and out["amount"] == 0
    assert "TURNOVER_UNVERIFIED" in [r["code"] for r in out["reasons"]]
    assert "CHAIN_POSITION" not in [r["code"] for r in out["reasons"]]


def test_compose_is_deterministic() -> None:
    assert compose(POLICY, inputs(), good()) == compose(POLICY, inputs(), good())
