"""Name normalisation as properties (hypothesis): spellings of one name share a form, and place names,
legal forms and branch suffixes come off without touching the brand."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from chainlight.resolve.normalise import PROVINCES, clean, normalise, places

BRAND = st.text("丞宸昊珑璟翊琮骐骏澄瀚熠铠钰", min_size=2, max_size=4)
TRADE = st.sampled_from(["", "新材料科技", "汽车部件", "精密机械", "电子", "生物医药"])
FORMS = ["有限公司", "股份有限公司", "有限责任公司", "集团有限公司"]


def _no_place_prefix(core: str) -> bool:
    return not any(core[:k] in places() for k in range(2, min(len(core), 8) + 1))


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


NAME_CHARACTERS = st.text(st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
                                    st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                                    st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),
                                    st.sampled_from(" \u3000·（）【】、，。")), max_size=30)


@given(NAME_CHARACTERS)
def test_clean_is_idempotent(text: str) -> None:
    assert clean(clean(text)) == clean(text)


@given(st.text(max_size=30))
def test_clean_is_idempotent_on_any_unicode(text: str) -> None:
    assert clean(clean(text)) == clean(text)


@given(BRAND, TRADE, st.text("AB12-", max_size=4), st.lists(st.integers(0, 12), max_size=3))
def test_width_spacing_and_punctuation_do_not_matter(brand: str, trade: str, latin: str, gaps: list[int]) -> None:
    name = f"{brand}{latin}{trade}有限公司"
    spaced = name
    for gap in sorted(set(gaps), reverse=True):
        spaced = spaced[:gap] + " · " + spaced[gap:]
    assert clean(fullwidth(name)) == clean(spaced) == clean(name)
    assert normalise(fullwidth(spaced)) == normalise(name)


@given(BRAND, TRADE, st.sampled_from(FORMS), st.sampled_from(FORMS))
def test_the_legal_form_comes_off_and_leaves_the_core(brand: str, trade: str, form: str, other: str) -> None:
    core = brand + trade
    assume(_no_place_prefix(core))
    assert normalise(core + form).core == normalise(core + other).core == core


@given(BRAND, TRADE, st.sampled_from(PROVINCES), st.sampled_from(FORMS), st.sampled_from(["", "省"]))
def test_a_leading_province_is_a_region_not_the_brand(brand: str, trade: str, province: str, form: str,
                                                      suffix: str) -> None:
    core = brand + trade
    assume(_no_place_prefix(core))
    parts = normalise(f"{province}{suffix}{core}{form}")
    assert (parts.core, parts.regions) == (core, (province,))
    bracketed = normalise(f"{core}({province}){form}")
    assert (bracketed.core, bracketed.regions) == (core, (province,))


@given(BRAND, TRADE, st.sampled_from(FORMS), st.sampled_from(["苏州", "上海", "城西"]),
       st.sampled_from(["分公司", "分厂", "办事处"]))
def test_a_branch_is_marked_and_keeps_the_parent_core(brand: str, trade: str, form: str, where: str, kind: str) -> None:
    core = brand + trade
    assume(_no_place_prefix(core))
    parent, branch = normalise(core + form), normalise(f"{core}{form}{where}{kind}")
    assert branch.branch and not parent.branch
    assert branch.core == parent.core == core
