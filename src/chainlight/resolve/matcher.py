"""Name → registry enterprise: exact and alias lookups, then blocking + a Fellegi–Sunter style score.

Each registry name (registered, former, short) is normalised once. A mention is matched in stages:
its text equals one registry name up to width, script and spacing (``exact``); its core equals a registry core (``exact``, or ``alias`` when that core came from the alias table),
disambiguated by region when the core is shared; otherwise candidates come from blocks (first two
core characters; either brand character + the trade words; the sorted brand characters + trade words,
so a typo, homophone or transposition in the brand still finds the firm) and are scored by summed
log-likelihood weights:

    weight = −6 + 8·similarity(core) + 2.5·[one core is a prefix of the other]
             + 1.5·[regions agree] − 3·[regions conflict] + 1·[same brand characters]
             + 3·[brand characters transposed] + 3·[same pinyin: a homophone]
             − ln(#registry cores sharing that prefix)   (term frequency: common prefixes prove little)

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

    def _weight(self, parts: NameParts, entry: _Entry) -> float:
        mine, theirs = parts.core, entry.parts.core
        weight = -6.0 + 8.0 * fuzz.ratio(mine, theirs) / 100.0
        shorter = mine if len(mine) <= len(theirs) else theirs
        if (theirs.startswith(mine) or mine.startswith(theirs)) and len(shorter) >= 2:
            weight += 2.5 - math.log(max(self.prefix_count.get(shorter[:4], 1), 1))
        if parts.regions and entry.parts.regions:
            weight += 1.5 if set(parts.regions) & set(entry.parts.regions) else -3.0
        if mine[:2] == theirs[:2]:
            weight += 1.0
        elif mine[2:] == theirs[2:] and sorted(mine[:2]) == sorted(theirs[:2]):
            weight += 3.0  # brand characters typed in the wrong order
        elif len(mine) == len(theirs) and _sound(mine) == _sound(theirs):
            weight += 3.0  # a homophone typed for a brand character
        return weight

    def _model(self, parts: NameParts) -> Match:
        candidates: set[int] = set()
        for key in _blocks(parts.core):
            block = self.blocks.get(key, [])
            if len(block) <= MAX_BLOCK:
                candidates.update(block)
        if not candidates:
            return UNRESOLVED
        best_per_firm: dict[str, float] = {}
        for index in sorted(candidates):
            entry = self.entries[index]
            weight = self._weight(parts, entry)
            if weight > best_per_firm.get(entry.uscc, -math.inf):
                best_per_firm[entry.uscc] = weight
        ranked = sorted(best_per_firm.items(), key=lambda kv: (-kv[1], kv[0]))
        uscc, weight = ranked[0]
        score = 1.0 / (1.0 + math.exp(-weight))
        if score < THRESHOLD:
            return Match(None, round(score, 4), "unresolved")
        if len(ranked) > 1 and weight - ranked[1][1] < MARGIN:
            return Match(None, round(score, 4), "ambiguous")
        return Match(uscc, round(score, 4), "model")
