"""Invoice line items as they are written, and segment evidence that reaches beyond the lexicon.

An e-invoice line reads ``*税收分类简称*商品名称 规格 单位``: the tax-classification short name between
asterisks, then the goods' name, then spec, grade, packaging and unit, space separated (the columns of
the invoice run together). ``parse_line_item`` splits off the short name and keeps the first token as
the goods' name; spec and unit say nothing about the segment.

Some lines bill no goods of the chain at all: freight, loading, warehousing, testing and other
services, pallets and packaging, rebates and discounts. ``non_product`` tells them apart (a tax code
outside 货物, the 1-prefixed half of the 税收分类编码, or a name of that kind) unless the ontology
itself maps the tax code to a segment (service segments have service codes); such lines give no
segment evidence.

``ItemReader`` turns line items into segment distributions in two passes:

1. per distinct (item, tax code): ontology lexicon hits on the goods' name and the segments the tax
   code maps to, averaged (each is half the say when both are present);
2. self-training: the names (and tax short names) of the items pass 1 was sure of (top share ≥
   ``SURE``) become a learned vocabulary, so a name the ontology never had — a trade name, a grade, an
   abbreviation — is read wherever it appears again (a product listing, a line without a known code).
   An item pass 1 could not read gets its learned names averaged with the segments of the firms that
   sell it (co-occurrence with the sellers' readable items, by amount); else its learned tax short
   name; the character n-gram model of ``signals`` is the last resort.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick
import numpy as np

from chainlight.ontology.model import normalise_term
from chainlight.ontology.signals import Distribution, SegmentLexicon, SegmentTextModel

STARRED = re.compile(r"^\s*\*([^*\s]{1,24})\*\s*")
TRAILING_BRACKET = re.compile(r"[（(][^（）()]*[）)]$")
# 税收分类编码: the first digit is the kind — 1 goods, 2 labour, 3 services, 4 intangibles, 5 real estate
NON_GOODS_CODE = re.compile(r"^[2-5]")
# lines that bill no goods: any fee (…费), a service (…服务), pallets and packaging, rebates, office supplies
NON_PRODUCT = re.compile(r"费用?$|服务$|托盘|栈板|纸箱|木箱|包装箱|包装物|周转箱|缠绕膜|打包带|返利|返点|折扣|折让|佣金|办公用品")
SURE = 0.75  # pass-1 top share for an item's name to enter the learned vocabulary (shares are 1, 0.75, 0.5…)
MIN_LEARNED_LENGTH = 2  # shorter names (单字) are too ambiguous to learn
MIN_MODEL_PROBABILITY = 0.35  # as ``signals.classify_texts``


@dataclass(frozen=True)
class LineItem:
    short: str  # 税收分类简称, "" when not printed
    name: str  # the goods' name without spec, grade, packaging and unit
    start: int  # where ``name`` starts in the text


def parse_line_item(text: str) -> LineItem:
    """``*简称*名称 规格 单位`` → (简称, 名称); a line without asterisks is all name, spec and unit."""
    text = text or ""
    starred = STARRED.match(text)
    short, offset = (starred.group(1), starred.end()) if starred else ("", 0)
    rest = text[offset:]
    stripped = rest.lstrip()
    offset += len(rest) - len(stripped)
    name = stripped.split()[0] if stripped.split() else ""
    bare = TRAILING_BRACKET.sub("", name)
    return LineItem(short, bare or name, offset)


def non_product(item: LineItem, tax_code: str, lexicon: SegmentLexicon) -> bool:
    """A line that bills no goods of any segment (freight, services, pallets, packaging, rebates)."""
    if lexicon.tax_segments(tax_code) or lexicon.product_hits(item.name):
        return False
    code = (tax_code or "").strip()
    return bool(NON_GOODS_CODE.match(code) or NON_PRODUCT.search(item.name)
                or (item.short and NON_PRODUCT.search(item.short)))


def _normalised(scores: dict[str, float]) -> Distribution:
    total = sum(scores.values())
    return {k: v / total for k, v in sorted(scores.items())} if total > 0 else {}


def _lexicon_distribution(hits: Iterable[tuple[str, tuple[str, ...]]]) -> Distribution:
    scores: dict[str, float] = defaultdict(float)
    for term, segments in hits:
        for segment in segments:
            scores[segment] += len(term) / len(segments)
    return _normalised(scores)


def _blend(*parts: Distribution) -> Distribution:
    """Equal say for each non-empty distribution."""
    present = [p for p in parts if p]
    scores: dict[str, float] = defaultdict(float)
    for part in present:
        for segment, p in part.items():
            scores[segment] += p / len(present)
    return _normalised(scores)


@dataclass(frozen=True)
class Reading:
    distribution: Distribution
    how: str  # lexicon | tax_code | lexicon+tax_code | learned | sellers | model | non_product | none
    span_start: int
    span: str


class Learned:
    """Names (and tax short names) → segment distributions, learned from confidently read items."""

    def __init__(self, names: dict[str, Distribution], shorts: dict[str, Distribution]) -> None:
        self.names, self.shorts = names, shorts
        self._automaton = ahocorasick.Automaton()
        for name in sorted(names):
            self._automaton.add_word(name, name)
        if names:
            self._automaton.make_automaton()

    def hits(self, text: str) -> list[tuple[int, str]]:
        """Longest learned names in ``text`` (normalised), as (start, name), no overlaps."""
        if not self.names or not text:
            return []
        folded = normalise_term(text)
        found = sorted(((end - len(n) + 1, n) for end, n in self._automaton.iter(folded)), key=lambda h: (h[0], -len(h[1])))
        out, covered = [], -1
        for start, name in found:
            if start > covered:
                out.append((start, name))
                covered = start + len(name) - 1
        return out

    def distribution(self, text: str) -> Distribution:
        """Learned names found in ``text``, each weighted by its length (as lexicon hits are)."""
        scores: dict[str, float] = defaultdict(float)
        for _, name in self.hits(text):
            for segment, p in self.names[name].items():
                scores[segment] += p * len(name)
        return _normalised(scores)


class ItemReader:
    """Line items and product texts → segment distributions (see the module docstring)."""

    def __init__(self, lexicon: SegmentLexicon, model: SegmentTextModel) -> None:
        self.lexicon, self.model = lexicon, model
        self.learned = Learned({}, {})

    def _first_pass(self, text: str, tax_code: str) -> Reading:
        item = parse_line_item(text)
        if non_product(item, tax_code, self.lexicon):
            return Reading({}, "non_product", item.start, item.name)
        hits = self.lexicon.product_hits(item.name)
        by_text = _lexicon_distribution((h.term, h.segments) for h in hits)
        by_code = _normalised({s: 1.0 for s in self.lexicon.tax_segments(tax_code)})
        how = "+".join(k for k, d in (("lexicon", by_text), ("tax_code", by_code)) if d) or "none"
        if hits:
            start = item.start + hits[0].start
            span = text[start:start + len(hits[0].term)]
        else:
            start, span = item.start, item.name
        return Reading(_blend(by_text, by_code), how, start, span)

    def read_items(self, items: Sequence[tuple[str, str]], sales: Sequence[tuple[str, int, float]] = ()
                   ) -> list[Reading]:
        """Per (item text, tax code): its reading. ``sales``: (seller, item index, amount) rows, for the
        seller co-occurrence of names nothing else reads."""
        first = [self._first_pass(text, code) for text, code in items]
        self.learned = self._learn(items, first)
        firms = self.firm_profiles(sales, first)
        by_sellers: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for seller, index, amount in sales:
            if not first[index].distribution and amount > 0:
                for segment, p in firms.get(seller, {}).items():
                    by_sellers[index][segment] += amount * p
        out: list[Reading] = []
        for i, ((text, _code), reading) in enumerate(zip(items, first, strict=True)):
            if reading.distribution or reading.how == "non_product":
                out.append(reading)
                continue
            item = parse_line_item(text)
            named = self.learned.distribution(item.name)
            sellers = _normalised(dict(by_sellers.get(i, {})))
            short = self.learned.shorts.get(normalise_term(item.short), {}) if item.short else {}
            evidence = _blend(named, sellers) or short
            how = "+".join(k for k, d in (("learned", named), ("sellers", sellers)) if d) or "learned"
            out.append(Reading(evidence, how, reading.span_start, reading.span) if evidence else reading)
        still = [i for i, r in enumerate(out) if not r.distribution and r.how != "non_product"]
        guesses = self._model([parse_line_item(items[i][0]).name for i in still])
        for i, guess in zip(still, guesses, strict=True):
            if guess:
                out[i] = Reading(guess, "model", out[i].span_start, out[i].span)
        return out

    def _model(self, texts: list[str]) -> list[Distribution]:
        if not texts:
            return []
        probabilities = self.model.predict(texts)
        out = []
        for row in probabilities:
            best = int(np.argmax(row))
            out.append({self.model.classes[best]: float(row[best])} if row[best] >= MIN_MODEL_PROBABILITY else {})
        return out

    def _learn(self, items: Sequence[tuple[str, str]], readings: list[Reading]) -> Learned:
        names: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        shorts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for (text, _code), reading in zip(items, readings, strict=True):
            if not reading.distribution or max(reading.distribution.values()) < SURE:
                continue
            item = parse_line_item(text)
            name, short = normalise_term(item.name), normalise_term(item.short)
            for segment, p in reading.distribution.items():
                if len(name) >= MIN_LEARNED_LENGTH:
                    names[name][segment] += p
                if short:
                    shorts[short][segment] += p
        keep = {n: d for n, d in ((n, _normalised(dict(v))) for n, v in names.items()) if max(d.values()) >= SURE}
        keep_short = {n: _normalised(dict(v)) for n, v in shorts.items()}
        return Learned(keep, keep_short)

    @staticmethod
    def firm_profiles(sales: Sequence[tuple[str, int, float]], readings: Sequence[Reading]) -> dict[str, Distribution]:
        """Per seller: the amount-weighted segments of the items it sells that have a reading."""
        scores: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for seller, index, amount in sales:
            if amount > 0:
                for segment, p in readings[index].distribution.items():
                    scores[seller][segment] += amount * p
        return {seller: _normalised(dict(s)) for seller, s in sorted(scores.items())}

    def read_products(self, texts: Sequence[str], firms: Sequence[Distribution | None]) -> list[Reading]:
        """Product listings (a firm's own words, no tax code): lexicon, then learned names, then the
        n-gram model averaged with the listing firm's profile from its invoices."""
        out: list[Reading | None] = []
        pending: list[int] = []
        for text in texts:
            hits = self.lexicon.product_hits(text)
            if hits:
                span = text[hits[0].start:hits[0].start + len(hits[0].term)]
                out.append(Reading(_lexicon_distribution((h.term, h.segments) for h in hits), "lexicon",
                                   hits[0].start, span))
                continue
            learned = self.learned.distribution(text)
            if learned:
                out.append(Reading(learned, "learned", 0, text))
                continue
            out.append(None)
            pending.append(len(out) - 1)
        if pending:
            probabilities = self.model.predict([texts[i] for i in pending])
            classes = self.model.classes
            for row, i in zip(probabilities, pending, strict=True):
                by_model = {classes[k]: float(p) for k, p in enumerate(row)}
                firm = firms[i] or {}
                if firm:
                    out[i] = Reading(_blend(by_model, firm), "model+sellers", 0, texts[i])
                else:
                    best = max(by_model.items(), key=lambda kv: (kv[1], kv[0]))
                    out[i] = Reading({best[0]: best[1]} if best[1] >= MIN_MODEL_PROBABILITY else {}, "model", 0,
                                     texts[i])
        return [r if r is not None else Reading({}, "none", 0, "") for r in out]
