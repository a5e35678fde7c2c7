"""Name → registry enterprise: exact and alias lookups, then blocking + a Fellegi–Sunter style score.

Each registry name (registered, former, short) is normalised once. A mention is matched in stages:
its text equals one registry name up to width, script and spacing (``exact``); its core equals a
registry core (``exact``, or ``alias`` when that core came from the alias table),
disambiguated by region when the core is shared; otherwise candidates come from blocks (first two
core characters; either brand character + the trade words; the sorted brand characters + trade words,
so a typo, homophone or transposition in the brand still finds the firm) and are scored by summed
log-likelihood weights:

    weight = −6 + 8·similarity(core) + 1·[same brand characters]
             + 3·[brand characters transposed] + 3·[same pinyin: a homophone]
    raised to 4.5 − ln(#registry cores sharing the head) when one core is the head of the other
    (short names), or to 3 − ln(#registry names it fits) when the mention is an abbreviation
    (中国能建 → 中国能源建设); then + 1.5 when regions agree, − 3 when they conflict.

``score = sigmoid(weight)``. The best candidate wins if its score reaches the threshold and beats the
runner-up (another firm) by ``margin`` in weight; a tie goes unresolved as ``ambiguous`` — a wrong link
is worse than none. The threshold and margin were set for precision on a development economy
(seed 7), not on the evaluation one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

from chainlight.resolve.normalise import NameParts, clean, normalise

THRESHOLD = 0.90
MARGIN = 1.5
MAX_BLOCK = 400


@dataclass(frozen=True)
class Match:
    uscc: str | None
    score: float
    method: str  # exact | alias | model | unresolved | ambiguous


UNRESOLVED = Match(None, 0.0, "unresolved")


@dataclass(frozen=True)
class _Entry:
    uscc: str
    parts: NameParts
    from_alias: bool


def _blocks(core: str) -> list[str]:
    keys = [f"p:{core[:2]}"]
    if len(core) >= 4:
        keys += [f"a:{core[0]}{core[2:4]}", f"b:{core[1:4]}", f"s:{''.join(sorted(core[:2]))}{core[2:4]}"]
    return keys


def _full(parts: NameParts) -> str:
    return "".join(parts.regions[:1]) + parts.core


def _is_subsequence(short: str, long: str) -> bool:
    chars = iter(long)
    return all(ch in chars for ch in short)


@lru_cache(maxsize=500_000)
def _sound(core: str) -> str:
    """Pinyin without tones: homophones (丞达/承达) sound the same."""
    return " ".join(lazy_pinyin(core))


class Resolver:
    """An index over registry names; ``resolve`` is deterministic and independent per name."""

    def __init__(self, names: Iterable[tuple[str, str, str]]) -> None:
        """``names``: (uscc, name, kind) with kind ``registered`` or an alias kind (short, former, other)."""
        self.entries: list[_Entry] = []
        self.by_core: dict[str, list[int]] = defaultdict(list)
        self.by_full: dict[str, set[str]] = defaultdict(set)
        self.blocks: dict[str, list[int]] = defaultdict(list)
        for uscc, name, kind in sorted(set(names)):
            parts = normalise(name)
            if len(parts.core) < 2:
                continue
            index = len(self.entries)
            self.entries.append(_Entry(uscc, parts, kind != "registered"))
            if kind == "registered":
                self.by_full[clean(name)].add(uscc)
            self.by_core[parts.core].append(index)
            for key in _blocks(parts.core):
                self.blocks[key].append(index)
        self.prefix_count = Counter(e.parts.core[:k] for e in self.entries for k in range(2, 5))
        self.by_char: dict[str, set[int]] = defaultdict(set)  # for abbreviations: 中国能建 → 中国能源建设
        for index, entry in enumerate(self.entries):
            for ch in set(_full(entry.parts)):
                self.by_char[ch].add(index)

    def resolve(self, name: str | None) -> Match:
        parts = normalise(name or "")
        if len(parts.core) < 2:
            return UNRESOLVED
        same_text = self.by_full.get(clean(name or ""), set())
        if len(same_text) == 1:  # the name as registered, up to width, script and spacing
            return Match(next(iter(same_text)), 1.0, "exact")
        exact = self._exact(parts)
        return exact if exact is not None else self._model(parts)

    def _exact(self, parts: NameParts) -> Match | None:
        hits = [self.entries[i] for i in self.by_core.get(parts.core, [])]
        if parts.regions:  # a place in the mention must be matched by a place in the name, not by silence
            hits = [e for e in hits if e.parts.regions]
        if not hits:
            return None
        firms = {e.uscc for e in hits}
        if len(firms) > 1 and parts.regions:
            agreeing = {e.uscc for e in hits if set(e.parts.regions) & set(parts.regions)}
            firms = agreeing or firms
        if len(firms) > 1:
            return Match(None, 0.5, "ambiguous")
        uscc = firms.pop()
        via_alias = all(e.from_alias for e in hits if e.uscc == uscc)
        conflict = parts.regions and all(e.parts.regions and not set(e.parts.regions) & set(parts.regions)
                                         for e in hits if e.uscc == uscc)
        if conflict:
            return None  # same brand and trade words in another city: let the model weigh it
        return Match(uscc, 1.0, "alias" if via_alias else "exact")

    def _weight(self, parts: NameParts, entry: _Entry, abbreviations: int) -> float:
        """Log-likelihood weight of "this mention names this entry"; ``abbreviations`` = how many entries
        the mention fits as an abbreviation (0 when this one is not among them)."""
        mine, theirs = parts.core, entry.parts.core
        weight = -6.0 + 8.0 * fuzz.ratio(mine, theirs) / 100.0
        if mine[:2] == theirs[:2]:
            weight += 1.0
        elif mine[2:] == theirs[2:] and sorted(mine[:2]) == sorted(theirs[:2]):
            weight += 3.0  # brand characters typed in the wrong order
        elif len(mine) == len(theirs) and _sound(mine) == _sound(theirs):
            weight += 3.0  # a homophone typed for a brand character
        shorter = mine if len(mine) <= len(theirs) else theirs
        if (theirs.startswith(mine) or mine.startswith(theirs)) and len(shorter) >= 2:
            # a short name keeps the head of the core: proof in inverse proportion to how common the head is
            weight = max(weight, 4.5 - math.log(max(self.prefix_count.get(shorter[:4], 1), 1)))
        elif abbreviations:
            contiguous = mine in _full(entry.parts)
            first_agrees = _full(parts)[0] == _full(entry.parts)[0]
            weight = max(weight, 3.0 - math.log(abbreviations) + (0.5 if contiguous else 0.0)
                         - (0.0 if contiguous or first_agrees else 2.0))
        if parts.regions and entry.parts.regions:
            weight += 1.5 if set(parts.regions) & set(entry.parts.regions) else -3.0
        return weight

    def _abbreviation_candidates(self, parts: NameParts) -> set[int]:
        """Entries whose region + core hold every character of the mention, in order."""
        text = _full(parts)
        postings = sorted((self.by_char.get(ch, set()) for ch in set(text)), key=len)
        if not postings or not postings[0]:
            return set()
        found = set(postings[0])
        for posting in postings[1:]:
            found &= posting
            if not found:
                return found
        return {i for i in found if _is_subsequence(text, _full(self.entries[i].parts))}

    def _ranked(self, parts: NameParts) -> list[tuple[str, float]]:
        """Every blocked candidate firm with its best weight, highest first."""
        candidates: set[int] = set()
        for key in _blocks(parts.core):
            block = self.blocks.get(key, [])
            if len(block) <= MAX_BLOCK:
                candidates.update(block)
        abbreviations = self._abbreviation_candidates(parts) if len(_full(parts)) <= 6 else set()
        candidates |= abbreviations
        best_per_firm: dict[str, float] = {}
        for index in sorted(candidates):
            entry = self.entries[index]
            weight = self._weight(parts, entry, len(abbreviations) if index in abbreviations else 0)
            if weight > best_per_firm.get(entry.uscc, -math.inf):
                best_per_firm[entry.uscc] = weight
        return sorted(best_per_firm.items(), key=lambda kv: (-kv[1], kv[0]))

    def candidates(self, name: str, limit: int = 10) -> list[tuple[str, float]]:
        """The best-scoring firms for a name, without the precision-first cut-off (for search boxes,
        where a person picks among a few): (uscc, score) highest first."""
        parts = normalise(name or "")
        if len(parts.core) < 2:
            return []
        return [(uscc, round(1.0 / (1.0 + math.exp(-w)), 4)) for uscc, w in self._ranked(parts)[:limit]]

    def _model(self, parts: NameParts) -> Match:
        ranked = self._ranked(parts)
        if not ranked:
            return UNRESOLVED
        uscc, weight = ranked[0]
        score = 1.0 / (1.0 + math.exp(-weight))
        if score < THRESHOLD:
            return Match(None, round(score, 4), "unresolved")
        if len(ranked) > 1 and weight - ranked[1][1] < MARGIN:
            return Match(None, round(score, 4), "ambiguous")
        return Match(uscc, round(score, 4), "model")
