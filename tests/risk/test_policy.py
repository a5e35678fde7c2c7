"""Policy files: the default validates; every kind of mistake is one InputError naming file and rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chainlight.errors import InputError
from chainlight.risk import policy

DEFAULT = yaml.safe_load((Path(policy.__file__).parent / "policy" / "default.yaml").read_text(encoding="utf-8"))


def text(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def edited(change) -> str:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(yaml.safe_dump(DEFAULT, allow_unicode=True))
    change(data)
    return text(data)


def rules(data: dict, table: str) -> list[dict]:
    return next(t for t in data["tables"] if t["id"] == table)["rules"]


def test_default_policy_loads_with_a_stable_hash() -> None:
    first, second = policy.load(), policy.load()
    assert first.hash == second.hash and len(first.hash) == 16
    assert {"hard_rules", "pd_bands", "line_factors"} <= set(first.tables)
    assert "HR01_blacklist" in first.rules


def test_hash_changes_when_a_threshold_changes() -> None:
    changed = policy.parse(edited(lambda d: rules(d, "hard_rules")[1]["when"].update(min=120)), "p.yaml")
    assert changed.hash != policy.load().hash


def test_unknown_field_names_file_and_rule() -> None:
    bad = edited(lambda d: rules(d, "hard_rules")[0].update(severity="high"))
    with pytest.raises(InputError) as err:
        policy.parse(bad, "mine.yaml")
    assert "mine.yaml" in str(err.value) and "HR01_blacklist" in str(err.value) and "severity" in str(err.value)


def test_unknown_top_level_field() -> None:
    with pytest.raises(InputError, match="owner"):
        policy.parse(edited(lambda d: d.update(owner="me")), "mine.yaml")


def test_contradictory_overlap_is_named() -> None:
    # overdue ≥ 60 refer overlaps overdue ≥ 90 decline
    bad = edited(lambda d: rules(d, "hard_rules")[2]["when"].update(min=30, max=120))
    with pytest.raises(InputError) as err:
        policy.parse(bad, "mine.yaml")
    assert "HR03_overdue_recent contradicts rule HR02_overdue_severe" in str(err.value)


def test_same_outcome_overlap_is_an_overlap() -> None:
    def change(d: dict) -> None:
        extra = dict(rules(d, "hard_rules")[1])
        extra["id"] = "HR99_again"
        extra["when"] = {"field": "max_overdue_days", "min": 100}
        rules(d, "hard_rules").append(extra)
    with pytest.raises(InputError, match="HR99_again overlaps rule HR02_overdue_severe"):
        policy.parse(edited(change), "mine.yaml")


def test_gap_in_a_complete_table() -> None:
    bad = edited(lambda d: rules(d, "pd_bands")[1]["when"].update(min=0.04))
    with pytest.raises(InputError, match="gap on 'pd' from 0.03 to 0.04"):
        policy.parse(bad, "mine.yaml")


def test_gap_at_the_end_of_the_domain() -> None:
    bad = edited(lambda d: rules(d, "pd_bands")[2]["when"].update(max=0.5))
    with pytest.raises(InputError, match="gap on 'pd' from 0.5"):
        policy.parse(bad, "mine.yaml")


def test_duplicate_ids_across_tables() -> None:
    bad = edited(lambda d: rules(d, "line_factors")[0].update(id="HR01_blacklist"))
    with pytest.raises(InputError, match="duplicate rule id HR01_blacklist"):
        policy.parse(bad, "mine.yaml")


def test_rule_needs_exactly_one_effect() -> None:
    bad = edited(lambda d: rules(d, "hard_rules")[0].update(factor=1.5))
    with pytest.raises(InputError, match="exactly one of outcome or factor"):
        policy.parse(bad, "mine.yaml")


def test_empty_range_and_bad_yaml() -> None:
    with pytest.raises(InputError, match="empty range"):
        policy.parse(edited(lambda d: rules(d, "hard_rules")[2]["when"].update(min=90, max=30)), "mine.yaml")
    with pytest.raises(InputError, match="not valid YAML"):
        policy.parse("tables: [", "broken.yaml")
    with pytest.raises(InputError, match="cannot read policy"):
        policy.load(Path("/nonexistent/policy.yaml"))


def test_rule_on_a_field_the_engine_does_not_provide(tmp_path: Path) -> None:
    from chainlight.risk.decide import POLICY_FIELDS, load_policy
    policy.check_fields(policy.load(), POLICY_FIELDS)  # the default tests only known inputs
    path = tmp_path / "typo.yaml"
    path.write_text(edited(lambda d: rules(d, "hard_rules")[0]["when"].update(field="blacklistd")), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_policy(path)
    assert "typo.yaml" in str(err.value) and "HR01_blacklist" in str(err.value) and "blacklistd" in str(err.value)


def test_collect_traces_every_fired_rule_with_its_value() -> None:
    p = policy.load()
    fired = p.evaluate("hard_rules", {"blacklisted": True, "max_overdue_days": 45, "open_litigations": 0,
                                      "tax_arrears": False, "age_years": 10, "verified_turnover": 5e6})
    assert [(f.rule, f.field, f.value) for f in fired] == [("HR01_blacklist", "blacklisted", True),
                                                           ("HR03_overdue_recent", "max_overdue_days", 45)]
    assert policy.worst(fired) == "decline"
    assert policy.worst([]) == "approve"


def test_first_hit_picks_one_band_and_missing_values_never_fire() -> None:
    p = policy.load()
    assert [f.rule for f in p.evaluate("pd_bands", {"pd": 0.05})] == ["PD2_medium"]
    assert [f.rule for f in p.evaluate("pd_bands", {"pd": 0.08})] == ["PD3_high"]  # [min, max): 0.08 is high
    assert p.evaluate("line_factors", {"hops_to_anchor": None}) == []
