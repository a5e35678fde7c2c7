from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainlight import uscc
from chainlight.engine import Dialect, DuckDBEngine
from chainlight.engine.duckdb_engine import DUCKDB_DIALECT

REAL_CODES = ["914403001922038216", "91440300708461136T", "91110108551385082Q", "91350100M000100Y43"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert uscc.problem(code) is None
    assert uscc.organisation_code_ok(code)


def test_lowercase_and_spaces_are_normalised() -> None:
    assert uscc.is_valid(" 91110108551385082q ")


@pytest.mark.parametrize("code,reason", [
    ("91440300708461136X", "checksum"),
    ("9144030070846113", "18 characters"),
    ("9144030070846113611", "18 characters"),
    ("91440300708461136I", "outside GB 32100"),
    ("9144AB00708461136T", "division"),
    ("", "empty"),
    (None, "empty"),
])
def test_invalid_codes_say_why(code: str | None, reason: str) -> None:
    problem = uscc.problem(code)
    assert problem is not None and reason in problem


def test_every_single_character_change_is_caught() -> None:
    code = REAL_CODES[0]
    for position in range(17):
        for replacement in uscc.ALPHABET:
            if replacement == code[position]:
                continue
            changed = code[:position] + replacement + code[position + 1:]
            if position in range(2, 8) and not replacement.isdigit():
                continue
            assert not uscc.is_valid(changed), changed


def test_make_builds_valid_codes() -> None:
    code = uscc.make("9", "1", "330400", "MA2JDP1A")
    assert uscc.is_valid(code) and uscc.organisation_code_ok(code)


# -- the SQL checks agree with uscc.is_valid -------------------------------------------------------------
_NEAR = uscc.ALPHABET + "IOSVZ" + "ａ١٣ß\u00e9中-_ "
_code_parts = st.builds(uscc.make, st.sampled_from("0123456789ABCDEFGHJKLMNPQRTUWXY"), st.sampled_from("123459"),
                        st.text("0123456789", min_size=6, max_size=6), st.text(uscc.ALPHABET, min_size=8, max_size=8))


@st.composite
def _candidates(draw: st.DrawFn) -> str:
    """Valid codes, codes with one to three characters changed (also to letters outside GB 32100 and to a
    letter in the division), cut or lengthened ones, forged ones (changed, then the check character
    recomputed as a checksum-only test would), and arbitrary text."""
    kind = draw(st.integers(0, 4))
    if kind == 3:
        return draw(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20))
    code = list(draw(_code_parts))
    for _ in range(kind if kind < 3 else 1):
        code[draw(st.integers(0, 16 if kind == 4 else 17))] = draw(st.sampled_from(_NEAR))
    text = "".join(code)
    if kind == 4:
        return _forge(text[:17])
    return draw(st.sampled_from([text, text[:17], text + "1"])) if kind == 2 else text


def _forge(first17: str) -> str:
    """``first17`` plus the check character a checksum-only test accepts (unknown characters count -1,
    as SQL's ``instr(...) - 1`` does)."""
    total = sum(uscc.ALPHABET.find(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + uscc.ALPHABET[(31 - total % 31) % 31]


@pytest.mark.parametrize("dialect", [Dialect(), DUCKDB_DIALECT], ids=["portable-sql", "duckdb-udf"])
@settings(max_examples=60, deadline=None)
@given(codes=st.lists(_candidates(), min_size=1, max_size=40))
def test_sql_uscc_check_matches_is_valid(dialect: Dialect, codes: list[str]) -> None:
    codes = [uscc.normalise(c) for c in codes]
    codes = [c for c in codes if uscc.normalise(c) == c]
    engine = DuckDBEngine()
    try:
        engine.register_arrow("codes", pa.table({"code": pa.array(codes, pa.string())}))
        got = engine.query(f"SELECT code, coalesce({dialect.uscc_checksum_ok('code')}, FALSE) AS ok FROM codes").to_pylist()
    finally:
        engine.close()
    assert {r["code"]: r["ok"] for r in got} == {c: uscc.is_valid(c) for c in codes}


@pytest.mark.parametrize("first17", ["9144AB00708461136", "9144030070846113I", "91440300708461136"])
def test_portable_sql_check_needs_the_full_pattern_not_only_the_checksum(first17: str) -> None:
    """A non-digit division or a letter outside the alphabet can still meet the weighted checksum."""
    forged = _forge(first17)
    engine = DuckDBEngine()
    try:
        assert engine.scalar(f"SELECT {Dialect().uscc_checksum_ok('$c')}", {"c": forged}) is uscc.is_valid(forged)
    finally:
        engine.close()
