"""Properties over many generated values (hypothesis): USCC check characters, date and money parsing.

Each check exists in more than one place (Python, vectorised Arrow, plain SQL, the engine's SQL);
the properties say they agree and round-trip, not just on a few hand-picked examples.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainlight import uscc
from chainlight.config import IngestSettings
from chainlight.engine import DuckDBEngine
from chainlight.engine.base import Dialect
from chainlight.ingest.checks import column_check
from chainlight.tables import Column

codes = st.builds(
    uscc.make,
    st.sampled_from("123456789ANY"), st.sampled_from("1239"),
    st.text("0123456789", min_size=6, max_size=6),
    st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8))


@pytest.fixture(scope="module")
def engine() -> DuckDBEngine:
    return DuckDBEngine()


def value_of(engine: DuckDBEngine, expression: str, text: str) -> object:
    """A check's SQL value expression over ``{t}``, evaluated on one text."""
    return engine.scalar("SELECT " + expression.replace("{t}", "$t"), {"t": text})


@given(codes)
def test_made_codes_are_valid_in_every_implementation(code: str) -> None:
    assert uscc.is_valid(code) and uscc.organisation_code_ok(code)
    assert uscc.is_valid(code.lower()) and uscc.is_valid(f"  {code} ")
    assert uscc.checksum_ok_arrow(pa.array([code])).to_pylist() == [True]


@given(codes, st.integers(0, 17), st.sampled_from(uscc.ALPHABET))
def test_any_single_substitution_is_caught(code: str, position: int, replacement: str) -> None:
    changed = code[:position] + replacement + code[position + 1:]
    if changed == code:
        return
    assert not uscc.is_valid(changed)
    assert uscc.checksum_ok_arrow(pa.array([changed])).to_pylist() == [False]


@given(st.dates(dt.date(1949, 1, 1), dt.date(2099, 12, 31)), st.sampled_from(Dialect.date_formats))
def test_every_accepted_date_spelling_round_trips(engine: DuckDBEngine, day: dt.date, spelling: str) -> None:
    check = column_check(Column("issue_date", "DATE", check="date"), engine.dialect, IngestSettings())
    assert value_of(engine, check.value, day.strftime(spelling)) == day


@given(st.integers(1949, 2099), st.integers(1, 12), st.integers(29, 35))
def test_impossible_calendar_dates_do_not_parse(engine: DuckDBEngine, year: int, month: int, day: int) -> None:
    try:
        dt.date(year, month, day)
        return  # a real date
    except ValueError:
        pass
    check = column_check(Column("issue_date", "DATE", check="date"), engine.dialect, IngestSettings())
    assert value_of(engine, check.value, f"{year:04d}-{month:02d}-{day:02d}") is None


@given(st.integers(-10**13, 10**13), st.sampled_from(["{:.2f}", "{:,.2f}", "¥{:.2f}", "￥{:,.2f}", "{:.2f} "]))
def test_money_spellings_parse_to_the_cent(engine: DuckDBEngine, cents: int, spelling: str) -> None:
    check = column_check(Column("amount", "DOUBLE", check="money"), engine.dialect, IngestSettings())
    text = spelling.format(cents / 100).strip()
    assert value_of(engine, check.value, text) == round(cents / 100, 2)
