"""The resolve stage reuses a name's decision only while the registry and the matcher are unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_tables, make_uscc

from chainlight import resolve
from chainlight.config import Config
from chainlight.resolve import matcher
from chainlight.workspace import Workspace


@pytest.fixture
def loaded(ws: Workspace, tmp_path: Path) -> Workspace:
    seller, buyer = make_uscc(1), make_uscc(2)
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": seller, "name": "嘉兴丞达新材料科技有限公司"},
                        {"uscc": buyer, "name": "杭州远航汽车集团股份有限公司"}],
        "invoices": [{"invoice_id": f"I{i}", "seller_uscc": seller, "buyer_name": name, "item_name": "尼龙",
                      "amount": 100, "issue_date": "2024-01-01"}
                     for i, name in enumerate(["远航汽车集团", "杭州远航汽车", "某某个体户"])]})
    first = resolve.run(ws, Config())
    assert first.stats["names_resolved_now"] == 3
    return ws


def test_same_registry_and_matcher_reuse_every_decision(loaded: Workspace) -> None:
    again = resolve.run(loaded, Config())
    assert (again.stats["names_reused"], again.stats["names_resolved_now"]) == (3, 0)


@pytest.mark.parametrize("constant", ["THRESHOLD", "MARGIN"])
def test_a_changed_matcher_constant_resolves_everything_again(loaded: Workspace, constant: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher, constant, getattr(matcher, constant) + 0.01)
    again = resolve.run(loaded, Config())
    assert (again.stats["names_reused"], again.stats["names_resolved_now"]) == (0, 3)


def test_matcher_version_follows_code_and_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    before = resolve.matcher_version()
    assert resolve.matcher_version() == before
    monkeypatch.setattr(matcher, "MAX_BLOCK", matcher.MAX_BLOCK + 1)
    assert resolve.matcher_version() != before


def test_matcher_version_is_the_same_in_every_process() -> None:
    """A version that differs per process would make every run resolve every name again (an object's
    default repr holds its address: the OpenCC converter among normalise's constants did)."""
    import subprocess
    import sys

    code = "from chainlight.resolve import matcher_version; print(matcher_version())"
    versions = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
                for _ in range(2)}
    assert versions == {resolve.matcher_version() + "\n"}
