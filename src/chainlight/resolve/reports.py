"""Firm mentions in free text (research reports): where a name is, before deciding whose it is.

A gazetteer built from the registry (registered names, aliases, cores and their four-character short
forms) is scanned with Aho–Corasick, and a pattern catches names ending in a legal form that the
registry does not know (old names, firms outside it). Overlaps keep the longest match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from chainlight.resolve.normalise import is_generic, normalise

# a name ending in a legal form; function words (是, 的, 已, 向, …) cannot be inside a name
LEGAL_NAME = re.compile(r"(?:(?![是的已与和向为在对从被将把及或等据悉进入了])[\u4e00-\u9fff（）()]){2,24}?"
                        r"(?:集团股份有限公司|集团有限公司|股份有限公司|有限责任公司|有限公司|集团)")


@dataclass(frozen=True)
class TextMention:
    start: int
    end: int
    name: str


#: Every text form is at least this long; a scan per key joins the text's windows of this length with the forms.
FORM_HEAD = 4


def text_forms(name: str) -> set[str]:
    """The forms of a registry name looked for in text: the name, its core and the core's first four
    characters, each of four characters or more and not generic."""
    core = normalise(name).core
    return {form for form in (name, core, core[:4]) if len(form) >= FORM_HEAD and not is_generic(form)}


def gazetteer(names: Iterable[str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for name in names:
        for form in text_forms(name):
            automaton.add_word(form, len(form))
    if len(automaton):
        automaton.make_automaton()
    return automaton


def find_mentions(text: str, automaton: ahocorasick.Automaton) -> list[TextMention]:
    """Non-overlapping mentions: registry forms first (longest wins), then unknown legal-form names."""
    return choose_mentions(text, [(end - length + 1, end + 1) for end, length in automaton.iter(text)]
                           if len(automaton) else [])


def choose_mentions(text: str, known: Iterable[tuple[int, int]]) -> list[TextMention]:
    """``find_mentions`` given where registry forms occur in the text (start, end), however they were found."""
    pattern = [(m.start(), m.end()) for m in LEGAL_NAME.finditer(text)]
    chosen: list[tuple[int, int]] = []
    for start, end in [*sorted(known, key=lambda s: (s[0], -(s[1] - s[0]))), *pattern]:
        if any(start < taken_end and taken_start < end for taken_start, taken_end in chosen):
            continue
        chosen.append((start, end))
    return [TextMention(start, end, text[start:end]) for start, end in sorted(chosen)]
