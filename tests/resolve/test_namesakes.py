"""The resolver knows when it does not know: parent groups and namesakes of a listed firm, evidence
beyond the name (the document's city, known partners), name structure (province abbreviations,
contractions, legal form), and where its constants come from."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chainlight.resolve import constants
from chainlight.resolve.matcher import Context, Resolver

LISTED, PARENT, NAMESAKE = "91450200198230687W", "91450200198230011X", "913701006135000001"
MINDRAY, MINDRAY_SD = "91440300708469203N", "91370100MA3C000001"
REGISTRY = [
    (LISTED, "广西柳工机械股份有限公司", "registered"),
    (PARENT, "广西柳工集团有限公司", "registered"),
    (NAMESAKE, "山东柳工机械有限公司", "registered"),
    (MINDRAY, "深圳迈瑞生物医疗电子股份有限公司", "registered"),
    (MINDRAY_SD, "山东迈瑞医疗器械有限公司", "registered"),
    ("91310000MA1FL00001", "上海农村商业银行股份有限公司", "registered"),
    ("91320000MA1FL00002", "江苏南通农村商业银行股份有限公司", "registered"),
    ("91330000MA1FL00003", "浙江中控智能控制技术股份有限公司", "registered"),
]
CITIES = {MINDRAY: "深圳", MINDRAY_SD: "济南"}


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver(REGISTRY, CITIES)


@pytest.mark.parametrize("mention,expected", [
    ("柳工", {LISTED, PARENT}),               # the listed firm and its parent group (the namesake trails)
    ("柳工机械", {LISTED, NAMESAKE}),         # same core in two provinces, nothing to choose by
    ("迈瑞医疗", {MINDRAY, MINDRAY_SD}),      # head of one, brand + trade word of the other
])
def test_parent_and_namesakes_stay_ambiguous(resolver: Resolver, mention: str, expected: set[str]) -> None:
    match = resolver.resolve(mention)
    assert match.uscc is None and match.method == "ambiguous"
    assert expected <= set(match.candidates)


def test_securities_short_name_prefers_the_gufen_firm_but_not_over_a_gufen_parent() -> None:
    """In a securities text a short name names a 股份有限公司 (the prior fit on the development half);
    when the parent group is a 股份有限公司 too, nothing tells them apart."""
    securities = Context(securities=True)
    resolver = Resolver(REGISTRY + [("91320000MA1WEIWEI1", "维维食品饮料股份有限公司", "registered"),
                                    ("91320000MA1WEIWEI2", "维维集团股份有限公司", "registered")])
    assert resolver.resolve("柳工", securities).uscc == LISTED
    match = resolver.resolve("维维股份", securities)
    assert match.method == "ambiguous" and set(match.candidates) == {"91320000MA1WEIWEI1", "91320000MA1WEIWEI2"}


@pytest.mark.parametrize("mention,expected", [
    ("柳工集团", PARENT),             # the legal form names the group
    ("山东柳工机械", NAMESAKE),        # the place names the namesake
    ("广西柳工机械股份有限公司", LISTED),
])
def test_structure_decides_when_the_name_says_enough(resolver: Resolver, mention: str, expected: str) -> None:
    assert resolver.resolve(mention).uscc == expected


def test_document_city_picks_the_namesake_there(resolver: Resolver) -> None:
    assert resolver.resolve("迈瑞医疗", Context(city="深圳")).uscc == MINDRAY
    assert resolver.resolve("迈瑞医疗", Context(city="济南")).uscc == MINDRAY_SD


def test_known_partner_picks_among_namesakes(resolver: Resolver) -> None:
    assert resolver.resolve("柳工机械", Context(partners=frozenset({NAMESAKE}))).uscc == NAMESAKE


def test_province_abbreviation_and_contraction(resolver: Resolver) -> None:
    assert resolver.resolve("沪农商行").uscc == "91310000MA1FL00001"
    assert resolver.resolve("中控智控").uscc == "91330000MA1FL00003"


def test_constants_module_names_its_source() -> None:
    assert "development half" in constants.SOURCE and "company.jsonl" in constants.SOURCE
    fit_script = Path(__file__).resolve().parents[2] / "bench" / "fit_resolve.py"
    assert fit_script.exists() and fit_script.name in constants.SOURCE
    tree = ast.parse(Path(constants.__file__).read_text(encoding="utf-8"))
    assigned = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(t, ast.Name)}
    assert {"STRUCTURE_WEIGHTS", "THRESHOLD", "MARGIN", "SOURCE"} <= assigned
