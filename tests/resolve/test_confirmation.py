"""General-mode structure links must be confirmed: among many firms an exact core is often one typo
away from another firm's core, which only the fuzzy model sees (a wrong link is worse than none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainlight.resolve import constants
from chainlight.resolve.matcher import Context, Resolver

BARE, TYPO_TWIN, OTHER = "91331100DNM9HH9K3E", "91333200NKPK6B2N4G", "91330000MA1FL00099"
REGISTRY = [
    (BARE, "昌大智能装备有限公司", "registered"),
    (TYPO_TWIN, "石家庄昌达智能装备有限公司", "registered"),  # 昌达: one homophone away from 昌大
    (OTHER, "杭州华泰精密机械有限公司", "registered"),
]


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver(REGISTRY)


def test_exact_core_with_a_typo_twin_is_not_linked(resolver: Resolver) -> None:
    # the structure stage sees only 昌大 (exact core); the fuzzy model sees 石家庄昌达 as well
    match = resolver.resolve("石家庄昌大智能装备有限公司")
    assert match.uscc is None and match.method == "ambiguous"
    assert BARE in match.candidates


def test_confirmed_links_stand(resolver: Resolver) -> None:
    assert resolver.resolve("昌大智能装备").uscc == BARE          # the fuzzy path agrees
    assert resolver.resolve("华泰精密机械有限公司").uscc == OTHER  # no rival anywhere


def test_context_backs_an_unconfirmed_winner(resolver: Resolver) -> None:
    match = resolver.resolve("石家庄昌大智能装备有限公司", Context(partners=frozenset({BARE})))
    assert match.uscc == BARE


def test_securities_mode_is_not_gated(resolver: Resolver) -> None:
    # securities short names keep the fitted structure verdict (their precision is measured on real names)
    assert resolver.resolve("石家庄昌大智能装备有限公司", Context(securities=True)).uscc == BARE


def test_the_lead_constant_names_its_sample() -> None:
    text = Path(constants.__file__).read_text(encoding="utf-8")
    assert constants.GENERAL_UNCONFIRMED_LEAD > constants.GENERAL_MARGIN
    assert "general_precision.py" in text and "seed 7" in text and "seed 11" in text
