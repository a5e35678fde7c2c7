"""Name → registry enterprise: the name as registered, then its structure, then a fuzzy fallback.

Each registry name (registered, former, short) is normalised once into place, core (brand 字号 +
trade words) and legal form. A mention is matched in stages:

1. its text equals one registry name up to width, script and spacing (``exact``);
2. the structure stage: every registry name whose core the mention's core fits — the same core, its
   head (brand + leading trade words), the brand plus a subset of the trade words, an abbreviation
   (contractions 智能控制 → 智控, initials across words 宝山钢铁 → 宝钢) or inside it after a longer
   brand — is described by features (how it fits, coverage, place and legal-form agreement, the
   entry's own 股份/集团/branch status, the document's city and the writer's known partners when the
   mention has them). A one-character province abbreviation (粤, 沪, 苏…) is read as a place too.
   Each firm's score is a linear sum of those features; the weights, THRESHOLD and MARGIN live in
   ``constants`` with their source (a conditional logit fit on the real development half). A near
   tie between firms is ``ambiguous`` with the candidates — a wrong link is worse than none. In general
   mode (invoice buyers, patent holders, report text) a structure link must be confirmed by the fuzzy
   model below, the document's context or a large lead (``Resolver._confirmed``): among a million firms
   an exact core is often a typo away from another firm's core;
3. when no registry name fits the structure: core lookups and a fuzzy model for typos, homophones and
   transposed brands (blocked candidates, hand-set log-odds weights:

    weight = −6 + 8·similarity(core) + 1·[same brand characters]
             + 3·[brand characters transposed] + 3·[same pinyin: a homophone]
    raised to 4.5 − ln(#registry cores sharing the head) when one core is the head of the other,
    or to 3 − ln(#registry names it fits) when the mention is an abbreviation;
    then + 1.5 when regions agree, − 3 when they conflict;

   ``score = sigmoid(weight)``, linked at MODEL_THRESHOLD with MODEL_MARGIN over the runner-up; these
   two were set on a synthetic development economy, seed 7).
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

from chainlight.resolve import constants as C
from chainlight.resolve.constants import MAX_BLOCK, MODEL_MARGIN, MODEL_THRESHOLD
from chainlight.resolve.index import Counts, Entries, Entry, KeyHashes, Postings
from chainlight.resolve.normalise import NameParts, clean, normalise

THRESHOLD = MODEL_THRESHOLD
MARGIN = MODEL_MARGIN


@dataclass(frozen=True)
class Match:
    uscc: str | None
    score: float
    method: str  # exact | alias | structure | model | unresolved | ambiguous
    candidates: tuple[str, ...] = ()  # for ``ambiguous``: the firms it could equally be
    lead: float = math.inf  # structure stage: the winner's lead over the runner-up (inf: no runner-up)


@dataclass(frozen=True)
class Context:
    """Evidence beyond the name, where the mention has it: the document's city, the firms the
    writer is known to trade with (for an invoice buyer: the seller's known partners)."""
    city: str | None = None
    partners: frozenset[str] = frozenset()
    securities: bool = False  # the mention is a security's short name (research report, news, filing)

    @property
    def weights(self) -> dict[str, float]:
        return C.STRUCTURE_WEIGHTS if self.securities else C.GENERAL_WEIGHTS

    @property
    def threshold(self) -> float:
        return C.THRESHOLD if self.securities else C.GENERAL_THRESHOLD

    @property
    def margin(self) -> float:
        return C.MARGIN if self.securities else C.GENERAL_MARGIN


UNRESOLVED = Match(None, 0.0, "unresolved")
NO_CONTEXT = Context()

# one-character province (and a few city) abbreviations as written in short names: 沪农商行, 粤高速, 深康佳
PLACE_ABBREVIATIONS = {"深": "深圳", "穗": "广州", "甬": "宁波",
    "京": "北京", "津": "天津", "沪": "上海", "渝": "重庆", "冀": "河北", "晋": "山西", "辽": "辽宁", "吉": "吉林",
    "黑": "黑龙江", "苏": "江苏", "浙": "浙江", "皖": "安徽", "闽": "福建", "赣": "江西", "鲁": "山东", "豫": "河南",
    "鄂": "湖北", "湘": "湖南", "粤": "广东", "琼": "海南", "川": "四川", "蜀": "四川", "黔": "贵州", "滇": "云南",
    "陕": "陕西", "甘": "甘肃", "陇": "甘肃", "青": "青海", "桂": "广西", "藏": "西藏", "蒙": "内蒙古", "宁": "宁夏",
    "新": "新疆"}
FORM_MARKS = ("股份", "集团")
MAX_CANDIDATES = 5  # an ambiguous mention lists at most this many firms


# stock-name marks around a short name: S*ST佳纸, PT水仙, 退市昆机, 雏鹰退, 新城B股
STOCK_MARKS = re.compile(r"^(?:S\*ST|SST|\*ST|ST|PT|S(?=[\u4e00-\u9fff])|退市)|(?<=[\u4e00-\u9fff]{2})(?:退|[AB]股)$")


def _readings(name: str) -> list[NameParts]:
    """The mention as normalised (without stock-name marks), and — when it opens with a one-character
    place abbreviation — also read as that place plus the rest (沪农商行 → 上海 + 农商行)."""
    parts = normalise(STOCK_MARKS.sub("", clean(name)))
    readings = [parts]
    head = parts.core[:1]
    if not parts.regions and head in PLACE_ABBREVIATIONS and len(parts.core) >= 3:
        readings.append(NameParts((PLACE_ABBREVIATIONS[head],), parts.core[1:], parts.legal_form, parts.branch))
    return readings


def _structure_features(mention: NameParts, entry: NameParts) -> dict[str, float] | None:
    """How the mention's core sits in the entry's name: the same core, its head (brand + leading
    trade words), the brand plus a subset of the trade words, an abbreviation (contractions such as
    智能控制 → 智控 and initials such as 宝山钢铁 → 宝钢: characters in order, first one kept) or
    inside it after a longer brand; None when it fits none of these. Place and legal form agree or
    conflict; the entry's own form (股份, 集团) and branch status are features too."""
    mine, theirs = mention.core, entry.core
    features: dict[str, float] = {"bias": 1.0}
    if mine == theirs:
        features["exact_core"] = 1.0
    elif theirs.startswith(mine):
        features["head"] = 1.0
    elif mine[:2] == theirs[:2] and _is_subsequence(mine[2:], theirs[2:]):
        features["brand_subset"] = 1.0
    elif mine[0] == theirs[0] and _is_subsequence(mine, theirs):
        features["abbreviation"] = 1.0
    elif mine in theirs or _is_subsequence(mine, place_core(entry)):
        features["inside"] = 1.0
    elif len(mine) >= 3 and mine[:2] == theirs[:2] and not mention.legal_form:
        features["brand_other"] = 1.0  # a short name: the brand, then a word the registered name lacks (口子窖)
    else:
        return None
    features["coverage"] = len(mine) / max(len(theirs), 1)
    if mention.regions and entry.regions:
        features["region_agree" if set(mention.regions) & set(entry.regions) else "region_conflict"] = 1.0
    marks = [m for m in FORM_MARKS if m in mention.legal_form]
    if marks:
        features["form_agree" if all(m in entry.legal_form for m in marks) else "form_conflict"] = 1.0
    elif "股份" in entry.legal_form:  # a short name (no legal form) vs a written 有限公司 without 股份
        features["candidate_gufen" if not mention.legal_form else "form_dropped"] = 1.0
    if "集团" in entry.legal_form and "集团" not in marks:
        features["candidate_group"] = 1.0
    if entry.branch:
        features["candidate_branch"] = 1.0
    return features


Scored = dict[str, tuple[float, dict[str, float], bool]]  # uscc → (score, features, fits via an alias)


def decide(scored: Scored, threshold: float, margin: float) -> Match:
    """The structure stage's decision over per-firm scores. Each firm's share is its softmax weight
    against all candidates plus a "none of them" alternative scoring 0. The winner links when its
    share reaches ``threshold`` and it leads the runner-up by ``margin``. Otherwise, when the fewest
    leading firms whose shares add up to ``threshold`` are several, the mention is ``ambiguous``
    with those candidates (it is one of them, but which?); else ``unresolved``."""
    ranked = sorted(((score, uscc) for uscc, (score, _, _) in scored.items()), key=lambda s: (-s[0], s[1]))
    top, uscc = ranked[0]
    runner_up = ranked[1][0] if len(ranked) > 1 else -math.inf
    total = 1.0 + sum(math.exp(s) for s, _ in ranked)
    share = math.exp(top) / total
    if share >= threshold and top - runner_up >= margin:
        _, features, via_alias = scored[uscc]
        method = ("alias" if via_alias else "exact") if "exact_core" in features else "structure"
        return Match(uscc, round(share, 4), method, lead=top - runner_up)
    held, close = 0.0, []
    last = math.inf
    for score, firm in ranked[:MAX_CANDIDATES]:
        if held >= threshold and score < last and score <= top - margin:  # enough, and no near tie left
            break
        held += math.exp(score) / total
        close.append(firm)
        last = score
    if held >= threshold and len(close) > 1:
        return Match(None, round(share, 4), "ambiguous", tuple(sorted(close)))
    return Match(None, round(share, 4), "unresolved")


def _linear(features: dict[str, float], weights: Mapping[str, float]) -> float:
    return sum(weights.get(k, 0.0) * v for k, v in features.items())


#: A registry table's columns ``Resolver.from_arrow`` reads; with ``PARTS_COLUMNS`` too (``parts_columns``), it
#: reads each name's parts instead of normalising it (the per-key resolution normalises each registry name once,
#: though every group reaching it builds it into its own partial resolver).
REGISTRY_COLUMNS = ("uscc", "name", "kind")
PARTS_COLUMNS = ("regions", "core", "legal_form", "branch")
#: A partial resolver's optional column: the entry is needed only as a fuzzy-model candidate (every lookup that
#: reached it was a fuzzy block), so it is indexed under its blocks alone. Any other lookup of the group's names
#: that would find it reached it too, so no other posting misses it (resolution per blocking key: most of a
#: group's entries are such, and indexing each under every key was most of a group's build).
BLOCKS_ONLY = "blocks_only"


def parts_columns(names: Iterable[str]) -> dict[str, list[Any]]:
    """``PARTS_COLUMNS`` of the names, as Python lists (regions as a JSON list: any character may occur in one)."""
    columns: dict[str, list[Any]] = {column: [] for column in PARTS_COLUMNS}
    for name in names:
        parts = normalise(name)
        for column, value in zip(PARTS_COLUMNS, (json.dumps(parts.regions, ensure_ascii=False), parts.core,
                                                 parts.legal_form, parts.branch), strict=True):
            columns[column].append(value)
    return columns


def read_parts(batch: pa.RecordBatch | pa.Table) -> Iterator[NameParts]:
    """The ``NameParts`` of each row of a batch with ``PARTS_COLUMNS``."""
    regions, cores, forms, branches = (batch.column(c).to_pylist() for c in PARTS_COLUMNS)
    for region, core, form, branch in zip(regions, cores, forms, branches, strict=True):
        yield NameParts(tuple(json.loads(region)), core, form, bool(branch))


Row = tuple[str, str, str, NameParts, bool]  # uscc, name, kind, parts, blocks only (``BLOCKS_ONLY``)


def _rows(table: pa.Table, slice_rows: int = 100_000) -> Iterator[Row]:
    normalised = set(PARTS_COLUMNS) <= set(table.column_names)
    for batch in table.to_batches(max_chunksize=slice_rows):
        uscc, names, kinds = (batch.column(c).to_pylist() for c in REGISTRY_COLUMNS)
        parts = read_parts(batch) if normalised else map(normalise, names)
        only = batch.column(BLOCKS_ONLY).to_pylist() if BLOCKS_ONLY in batch.schema.names else [False] * batch.num_rows
        yield from zip(uscc, names, kinds, parts, map(bool, only), strict=True)


def _unique(registry: pa.Table, known_distinct: bool = False) -> pa.Table:
    """A registry table's distinct rows in the order ``Resolver(rows)`` reads them (UTF-8 byte order is
    code-point order, as Python sorts). ``known_distinct``: the rows are distinct already, so only sorted (a
    group per blocking key: deduplicating its 136k rows cost 0.59 s, sorting them 0.08 s)."""
    columns = [*REGISTRY_COLUMNS, *(c for c in (*PARTS_COLUMNS, BLOCKS_ONLY) if c in registry.column_names)]
    rows = registry.select(columns) if known_distinct else registry.select(columns).group_by(columns).aggregate([])
    return rows.sort_by([(c, "ascending") for c in REGISTRY_COLUMNS])


def _blocks(core: str) -> list[str]:
    keys = [f"p:{core[:2]}"]
    if len(core) >= 4:
        keys += [f"a:{core[0]}{core[2:4]}", f"b:{core[1:4]}", f"s:{''.join(sorted(core[:2]))}{core[2:4]}"]
    return keys


def index_keys(name: str, kind: str, parts: NameParts) -> Iterator[tuple[str, str]]:
    """The (lookup table, key) pairs a registry name (normalised to ``parts``, core of 2+) is indexed
    under: the same-text lookup, its core, its 2- and 3-character heads, the fuzzy blocks, the core's
    prefixes (counted only) and each character of place + core (abbreviations)."""
    core = parts.core
    if kind == "registered":
        yield "full", clean(name)
    yield "core", core
    yield "head", core[:2]  # brand heads: first 2 and 3 core characters
    if len(core) >= 3:
        yield "head", core[:3]
    for key in _blocks(core):
        yield "block", key
    for k in range(2, 5):
        yield "pre", core[:k]
    for ch in set(place_core(parts)):
        yield "char", ch


class Lookup(NamedTuple):
    """One key ``Resolver.resolve`` may read for a name. ``cap``: the entries under it are read only when
    the whole registry holds at most that many (None: always; 0: only their number is read). A tuple, not a
    dataclass: ``lookups`` makes about 20 a name, hashed and sorted, and a tuple's are C."""
    table: str  # full | core | head | block | pre | abbreviation (text whose characters an entry holds in order)
    key: str
    cap: int | None
    holds: int = 0  # a character signature every entry it needs has (``signature``; 0: no test)


def lookups(name: str) -> list[Lookup]:
    """Every index key ``Resolver.resolve(name, context)`` may read, whatever the context: the entries a
    partial resolver (``Resolver.partial``) needs to decide this name as the whole registry would."""
    parts = normalise(name or "")
    if len(parts.core) < 2:
        return []
    keys = {Lookup("full", clean(name), None), Lookup("core", parts.core, None)}
    for reading in _readings(name):  # the structure stage
        keys.add(Lookup("core", reading.core, None))
        # the entries of a head block without all the core's characters are dropped unread (_structure_candidates)
        holds = signature(reading.core) if reading.legal_form or len(reading.core) < 3 else 0
        keys.update(Lookup("head", reading.core[:k], C.MAX_STRUCTURE_BLOCK, holds)
                    for k in (2, 3) if len(reading.core) >= k)
        if len(place_core(reading)) <= 6:
            keys.add(Lookup("abbreviation", place_core(reading), None))
    keys.update(Lookup("block", key, MAX_BLOCK) for key in _blocks(parts.core))  # the fuzzy model
    if len(place_core(parts)) <= 6:
        keys.add(Lookup("abbreviation", place_core(parts), None))
    keys.update(Lookup("pre", parts.core[:k], 0) for k in range(2, 5))
    return sorted(keys)


def char_pairs(text: str) -> set[str]:
    """Every unordered pair of the text's characters (a character with itself when it occurs twice): an entry
    holding a text's characters in order holds all of the text's pairs, and a pair is far rarer than a
    character, so an abbreviation's candidates are found through its rarest pair."""
    chars = sorted(text)
    return {a + b for i, a in enumerate(chars) for b in chars[i + 1:] if a != b or chars.count(a) > 1}


def signature(text: str) -> int:
    """``_signature`` as a signed 64-bit integer (a SQL BIGINT: bitwise tests in SQL read the same bits)."""
    bits = _signature(text)
    return bits - (1 << 64) if bits >= 1 << 63 else bits


def place_core(parts: NameParts) -> str:
    """Place + core: the text an abbreviation is read against (宝钢 in 上海宝山钢铁)."""
    return "".join(parts.regions) + parts.core


def _signature(text: str) -> int:
    """A 64-bit set of the text's characters (one hashed bit each): an entry whose signature lacks a
    bit of the mention's cannot hold every character of the mention."""
    bits = 0
    for ch in text:
        bits |= 1 << ((ord(ch) * 2654435761) >> 11) % 64
    return bits


def _homophone_asked(mine: str, theirs: str) -> bool:
    """Whether ``Resolver._weight`` reaches its homophone test for these cores (same length, brands
    neither equal nor transposed)."""
    return (len(mine) == len(theirs) and mine[:2] != theirs[:2]
            and not (mine[2:] == theirs[2:] and sorted(mine[:2]) == sorted(theirs[:2])))


def _is_subsequence(short: str, long: str) -> bool:
    chars = iter(long)
    return all(ch in chars for ch in short)


@lru_cache(maxsize=2_000_000)  # the registry cores a worker meets (each is a candidate for ~100 mentions)
def _sound(core: str) -> str:
    """Pinyin without tones: homophones (丞达/承达) sound the same."""
    return " ".join(lazy_pinyin(core))


class Resolver:
    """An index over registry names; ``resolve`` is deterministic and independent per name."""

    def __init__(self, names: Iterable[tuple[str, str, str]], cities: Mapping[str, str] | None = None) -> None:
        """``names``: (uscc, name, kind) with kind ``registered`` or an alias kind (short, former, other);
        ``cities``: the registered city of a firm where the registry knows it (uscc → city)."""
        self._build(((uscc, name, kind, normalise(name), False) for uscc, name, kind in sorted(set(names))), cities)

    @classmethod
    def from_arrow(cls, registry: pa.Table, cities: Mapping[str, str] | None = None) -> Resolver:
        """The resolver over a registry table (``uscc``, ``name``, ``kind``) too large for a list of tuples:
        deduplicated and ordered in Arrow (``_unique``), then read in slices, so the same entries come in the
        same order as from ``Resolver(rows)``. With ``PARTS_COLUMNS``
        (``parts_columns``) each name's parts are read, not normalised again."""
        resolver = cls.__new__(cls)
        resolver._build(_rows(_unique(registry)), cities)
        return resolver

    @classmethod
    def partial(cls, registry: pa.Table, sizes: Mapping[str, int]) -> Resolver:
        """A resolver over part of the registry that decides some names as the whole registry would: it
        holds (at least) every entry those names' ``lookups`` reach, and ``sizes`` gives, per ``table:key``
        of their capped and counted lookups, how many entries the whole registry holds under it (a key
        missing from ``sizes`` has none). Extra entries change nothing: a name meets an entry only
        through its own lookups, and every cut-off reads the whole registry's sizes. Its rows must be distinct
        (``blocked_groups.sql`` gives each entry once per group): a repeated entry would count twice where the
        matcher counts entries (an abbreviation's candidates)."""
        resolver = cls.__new__(cls)
        resolver._build(_rows(_unique(registry, known_distinct=True)), None, sizes)
        return resolver

    def _build(self, rows: Iterable[Row], cities: Mapping[str, str] | None,
               sizes: Mapping[str, int] | None = None) -> None:
        """One pass over the sorted, distinct rows into the flat index (``index``): entries, then per
        lookup the (key, entry) pairs, made postings at the end. With ``sizes`` (a partial resolver) the
        prefixes are not counted: the whole registry's counts are among the sizes."""
        self.cities = dict(cities or {})
        self._sizes = sizes
        by_full, by_core, by_head, blocks = KeyHashes(), KeyHashes(), KeyHashes(), KeyHashes()
        prefixes = array("q")
        signatures = array("Q")
        # for abbreviations (中国能建 → 中国能源建设): per character the entries whose place + core hold it
        # (ascending int32 arrays), and per entry a character signature to filter a posting in one numpy step
        by_char: dict[str, array] = defaultdict(lambda: array("i"))

        postings = {"full": by_full, "core": by_core, "head": by_head, "block": blocks}

        def kept() -> Iterator[tuple[str, NameParts, bool]]:
            index = 0
            for uscc, name, kind, parts, blocks_only in rows:
                if len(parts.core) < 2:
                    continue
                keys = (("block", key) for key in _blocks(parts.core)) if blocks_only else index_keys(name, kind, parts)
                for table, key in keys:
                    if table == "pre":
                        if sizes is None:
                            prefixes.append(hash(key))
                    elif table == "char":
                        by_char[key].append(index)
                    else:
                        postings[table].add(key, index)
                # a blocks-only entry's signature is never read (it is in no head or character posting)
                signatures.append(0 if blocks_only else _signature(place_core(parts)))
                yield uscc, parts, kind != "registered"
                index += 1

        self.entries = Entries(kept())
        self.by_full, self.by_core, self.by_head, self.blocks = (Postings(p) for p in (by_full, by_core, by_head, blocks))
        self._postings = {"head": self.by_head, "block": self.blocks}
        self.prefix_count = Counts(prefixes)
        self.signatures = np.frombuffer(signatures, dtype=np.uint64).copy()
        self.by_char = {ch: np.frombuffer(ix, dtype=np.int32).copy() for ch, ix in by_char.items()}
        self.by_char_signatures = {ch: self.signatures[ix] for ch, ix in self.by_char.items()}  # contiguous
        # per-process memos of the pieces one resolve() may need twice (structure stage, confirmation)
        self._abbreviations = lru_cache(maxsize=64)(self._abbreviation_candidates)
        self._ranked_memo = lru_cache(maxsize=64)(self._ranked)
        self._scored_memo = lru_cache(maxsize=64)(self._scored)

    def resolve(self, name: str | None, context: Context | None = None) -> Match:
        parts = normalise(name or "")
        if len(parts.core) < 2:
            return UNRESOLVED
        same_text = {self.entries.uscc(i) for i in self.by_full.get(clean(name or "")).tolist()}
        if len(same_text) == 1:  # the name as registered, up to width, script and spacing
            return Match(next(iter(same_text)), 1.0, "exact")
        context = context or NO_CONTEXT
        structured = self._structure(name or "", context)
        if structured is not None and (structured.method != "unresolved" or context.securities):
            if structured.uscc is None or context.securities:
                return structured
            return self._confirmed(structured, name or "", context)
        return self.resolve_fuzzy(name)  # a securities short name that fits nothing well stays unresolved

    def _confirmed(self, structured: Match, name: str, context: Context) -> Match:
        """A general-mode structure link stands when the fuzzy path links the same firm or sees no
        plausible firm at all (``unresolved``: abbreviations such as 沪农商行), when the document's
        context (city, known partner) backs the winner, or when the fuzzy path is torn between firms
        and either the structure stage weighed (and beat) every firm near the fuzzy top, or it weighed
        a rival and beat it by GENERAL_UNCONFIRMED_LEAD on an exact core of a registered name.
        Otherwise the mention is ``ambiguous`` between the two verdicts' firms: among 1M firms an exact
        core is often a typo away from another firm's core (昌大 vs 昌达), which only the fuzzy model sees."""
        fuzzy = self.resolve_fuzzy(name)
        if fuzzy.uscc == structured.uscc or fuzzy.method == "unresolved":
            return structured
        scored = self._scored_memo(name, context)
        if any(f in scored[structured.uscc or ""][1] for f in ("context_city", "context_partner")):
            return structured
        if (fuzzy.uscc is None and structured.method == "exact"
                and C.GENERAL_UNCONFIRMED_LEAD <= structured.lead < math.inf):
            return structured
        if fuzzy.method == "ambiguous" and self._rivals_weighed(name, scored):
            return structured
        firms = tuple(sorted({structured.uscc or "", fuzzy.uscc or ""} - {""}))
        return Match(None, structured.score, "ambiguous", firms)

    def resolve_fuzzy(self, name: str | None) -> Match:
        """The fallback when no registry name fits the mention's structure: core lookups, then the
        fuzzy model for typos, homophones and transposed brands."""
        parts = normalise(name or "")
        if len(parts.core) < 2:
            return UNRESOLVED
        exact = self._exact(parts)
        return exact if exact is not None else self._model(parts)

    def candidate_features(self, name: str, context: Context | None = None) -> dict[str, dict[str, float]]:
        """Per firm that the name fits structurally, its best feature vector (the one scoring highest
        under the shipped weights); also what ``bench/fit_resolve.py`` fits the weights on."""
        return {uscc: features for uscc, (_, features, _) in self._scored_memo(name, context or NO_CONTEXT).items()}

    def _scored(self, name: str, context: Context) -> Scored:
        """uscc → (score, features, whether the best-fitting name is an alias)."""
        best: Scored = {}
        for parts in _readings(name):
            for index in sorted(self._structure_candidates(parts)):
                entry = self.entries[index]
                features = _structure_features(parts, entry.parts)
                if features is None:
                    continue
                if context.city and (context.city in entry.parts.regions or self.cities.get(entry.uscc) == context.city):
                    features["context_city"] = 1.0
                if entry.uscc in context.partners:
                    features["context_partner"] = 1.0
                score = _linear(features, context.weights)
                # the firm's best-fitting name; on a tie its registered name before an alias
                if entry.uscc not in best or (score, not entry.from_alias) > (best[entry.uscc][0],
                                                                             not best[entry.uscc][2]):
                    best[entry.uscc] = (score, features, entry.from_alias)
        return best

    def _structure_candidates(self, parts: NameParts) -> set[int]:
        core = parts.core
        found = set(self.by_core.get(core).tolist())
        block = self._capped("head", core[:2], C.MAX_STRUCTURE_BLOCK)
        if block is None and len(core) >= 3:
            block = self._capped("head", core[:3], C.MAX_STRUCTURE_BLOCK)
        if block is not None:
            if parts.legal_form or len(core) < 3:
                # then every way _structure_features can fit an entry needs all the core's characters in
                # the entry's place + core (only brand_other, for a short name of 3+, does not): drop the
                # rest of the block in one numpy step instead of one Python call each
                wanted = np.uint64(_signature(core))
                block = block[(self.signatures[block] & wanted) == wanted]
            found.update(block.tolist())
        if len(place_core(parts)) <= 6:
            found |= self._abbreviations(place_core(parts))
        return found

    def _structure(self, name: str, context: Context) -> Match | None:
        """Brand, trade words, place and legal form, weighed per firm; a near tie is ``ambiguous``.
        None when no registry name fits the mention's structure (the fuzzy model gets it)."""
        scored = self._scored_memo(name, context)
        return decide(scored, context.threshold, context.margin) if scored else None

    def _rivals_weighed(self, name: str, scored: Scored) -> bool:
        """Whether every firm the fuzzy model finds near its top (within MODEL_MARGIN) was also weighed
        by the structure stage, which then beat it: the fuzzy doubt holds nothing the structure missed."""
        ranked = self._ranked_memo(normalise(name))
        if not ranked:
            return False
        top = ranked[0][1]
        return all(uscc in scored for uscc, weight in ranked if weight >= top - MODEL_MARGIN)

    def _exact(self, parts: NameParts) -> Match | None:
        hits = [self.entries[i] for i in self.by_core.get(parts.core).tolist()]
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

    def _weight(self, parts: NameParts, entry: Entry, abbreviations: int, homophone: bool) -> float:
        """Log-likelihood weight of "this mention names this entry"; ``abbreviations`` = how many entries
        the mention fits as an abbreviation (0 when this one is not among them); ``homophone``: whether
        the cores sound the same (used only where ``_homophone_asked`` says the rule asks)."""
        mine, theirs = parts.core, entry.parts.core
        weight = -6.0 + 8.0 * fuzz.ratio(mine, theirs) / 100.0
        if mine[:2] == theirs[:2]:
            weight += 1.0
        elif mine[2:] == theirs[2:] and sorted(mine[:2]) == sorted(theirs[:2]):
            weight += 3.0  # brand characters typed in the wrong order
        elif homophone and len(mine) == len(theirs):
            weight += 3.0  # a homophone typed for a brand character
        shorter = mine if len(mine) <= len(theirs) else theirs
        if (theirs.startswith(mine) or mine.startswith(theirs)) and len(shorter) >= 2:
            # a short name keeps the head of the core: proof in inverse proportion to how common the head is
            weight = max(weight, 4.5 - math.log(max(self._prefix_count(shorter[:4]), 1)))
        elif abbreviations:
            contiguous = mine in place_core(entry.parts)
            first_agrees = place_core(parts)[0] == place_core(entry.parts)[0]
            weight = max(weight, 3.0 - math.log(abbreviations) + (0.5 if contiguous else 0.0)
                         - (0.0 if contiguous or first_agrees else 2.0))
        if parts.regions and entry.parts.regions:
            weight += 1.5 if set(parts.regions) & set(entry.parts.regions) else -3.0
        return weight

    def _capped(self, table: str, key: str, cap: int) -> np.ndarray | None:
        """The entries under ``key`` in lookup ``table`` (head, block), or None when the registry holds
        more than ``cap`` of them (too common to tell firms apart)."""
        block = self._postings[table].get(key)
        size = len(block) if self._sizes is None else self._sizes.get(f"{table}:{key}", 0)
        return block if size <= cap else None

    def _prefix_count(self, prefix: str) -> int:
        """How many registry cores start with ``prefix`` (2 to 4 characters; a shorter core counts once per
        length it is cut at, as ``index_keys`` emits it)."""
        return self.prefix_count.get(prefix) if self._sizes is None else self._sizes.get(f"pre:{prefix}", 0)

    def _abbreviation_candidates(self, text: str) -> frozenset[int]:
        """Entries whose region + core hold every character of ``text`` (a mention's), in order: from
        the rarest character's posting, those whose signature has all the text's bits, then checked."""
        chars = set(text)
        if not chars or any(ch not in self.by_char for ch in chars):
            return frozenset()
        rarest = min(chars, key=lambda ch: len(self.by_char[ch]))
        wanted = np.uint64(_signature(text))
        survivors = self.by_char[rarest][(self.by_char_signatures[rarest] & wanted) == wanted]
        return frozenset(i for i in survivors.tolist() if _is_subsequence(text, self.entries.full(i)))

    def _ranked(self, parts: NameParts, complete: bool = False) -> tuple[tuple[str, float], ...]:
        """Every blocked candidate firm with its best weight, highest first. The homophone test (pinyin,
        the slowest part) is run only where it can matter: unless ``complete``, a firm whose weight even
        with the homophone bonus stays below the second-best firm's sure weight minus MODEL_MARGIN keeps
        its sure weight — it cannot be the top, the runner-up or within MODEL_MARGIN of the top, which
        is all ``_model`` and ``_rivals_weighed`` read (and its listed weight is still below theirs)."""
        candidates: set[int] = set()
        for key in _blocks(parts.core):
            block = self._capped("block", key, MAX_BLOCK)
            if block is not None:
                candidates.update(block.tolist())
        abbreviations = self._abbreviations(place_core(parts)) if len(place_core(parts)) <= 6 else frozenset()
        candidates |= abbreviations
        sure: dict[str, float] = {}  # per firm: its best weight not counting an untested homophone bonus
        open_bonus: dict[str, list[tuple[float, str]]] = defaultdict(list)  # (weight with the bonus, core)
        for index in sorted(candidates):
            entry = self.entries[index]
            count = len(abbreviations) if index in abbreviations else 0
            weight = self._weight(parts, entry, count, False)
            if _homophone_asked(parts.core, entry.parts.core):
                with_bonus = self._weight(parts, entry, count, True)
                if with_bonus > weight:
                    open_bonus[entry.uscc].append((with_bonus, entry.parts.core))
            if weight > sure.get(entry.uscc, -math.inf):
                sure[entry.uscc] = weight
        ordered = sorted(sure.values(), reverse=True)
        floor = -math.inf if complete or len(ordered) < 2 else ordered[1] - MODEL_MARGIN
        for uscc, options in open_bonus.items():
            for with_bonus, core in sorted(options, reverse=True):
                if with_bonus <= sure[uscc] or with_bonus < floor:
                    break  # sorted: no later option can raise this firm where it matters
                if _sound(parts.core) == _sound(core):
                    sure[uscc] = with_bonus
                    break
        return tuple(sorted(sure.items(), key=lambda kv: (-kv[1], kv[0])))

    def candidates(self, name: str, limit: int = 10) -> list[tuple[str, float]]:
        """The best-scoring firms for a name, without the precision-first cut-off (for search boxes,
        where a person picks among a few): (uscc, score) highest first."""
        parts = normalise(name or "")
        if len(parts.core) < 2:
            return []
        return [(uscc, round(1.0 / (1.0 + math.exp(-w)), 4)) for uscc, w in self._ranked_memo(parts, True)[:limit]]

    def _model(self, parts: NameParts) -> Match:
        ranked = self._ranked_memo(parts)
        if not ranked:
            return UNRESOLVED
        uscc, weight = ranked[0]
        score = 1.0 / (1.0 + math.exp(-weight))
        if score < THRESHOLD:
            return Match(None, round(score, 4), "unresolved")
        if len(ranked) > 1 and weight - ranked[1][1] < MARGIN:
            return Match(None, round(score, 4), "ambiguous")
        return Match(uscc, round(score, 4), "model")
