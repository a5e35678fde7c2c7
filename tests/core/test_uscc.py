from __future__ import annotations

import pytest

from chainlight import uscc

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
