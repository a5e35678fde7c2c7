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
from functools import partial
from typing import TYPE_CHECKING, Any

import ahocorasick
import numpy as np
import pyarrow as pa

from chainlight.ontology.model import normalise_term
from chainlight.ontology.signals import Distribution, SegmentLexicon, SegmentTextModel

if TYPE_CHECKING:
    from chainlight.engine.base import Engine

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


def _summed(parts: Iterable[tuple[float, Distribution]]) -> dict[str, float]:
    """Σ weight × p per segment, added in the order given: every accumulation of the reader goes through
    here, in memory and per group on an engine alike, so both add the same floats in the same order."""
    scores: dict[str, float] = defaultdict(float)
    for weight, distribution in parts:
        for segment, p in distribution.items():
            scores[segment] += weight * p
    return dict(scores)


def _sure(distribution: Distribution) -> bool:
    return bool(distribution) and max(distribution.values()) >= SURE


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
        seller co-occurrence of names nothing else reads. In memory; ``read_items_on`` is the same on an
        engine's tables."""
        first = [self._first_pass(text, code) for text, code in items]
        self.learned = self._learn(items, first)
        firms = self.firm_profiles(sales, first)
        by_item: dict[int, list[tuple[float, Distribution]]] = defaultdict(list)
        for seller, index, amount in sales:
            if not first[index].distribution and amount > 0:
                by_item[index].append((amount, firms.get(seller, {})))
        out = [self._second_pass(text, reading, _normalised(_summed(by_item.get(i, ()))))
               for i, ((text, _code), reading) in enumerate(zip(items, first, strict=True))]
        return self._model_last([text for text, _ in items], out)

    def _second_pass(self, text: str, reading: Reading, sellers: Distribution) -> Reading:
        """An item pass 1 could not read: its learned names with its sellers' segments, else its short name."""
        if reading.distribution or reading.how == "non_product":
            return reading
        item = parse_line_item(text)
        named = self.learned.distribution(item.name)
        short = self.learned.shorts.get(normalise_term(item.short), {}) if item.short else {}
        evidence = _blend(named, sellers) or short
        how = "+".join(k for k, d in (("learned", named), ("sellers", sellers)) if d) or "learned"
        return Reading(evidence, how, reading.span_start, reading.span) if evidence else reading

    def _model_last(self, texts: Sequence[str], readings: list[Reading]) -> list[Reading]:
        """The n-gram model for the items nothing else read (one ``predict`` call for them all)."""
        out = list(readings)
        still = [i for i, r in enumerate(out) if not r.distribution and r.how != "non_product"]
        guesses = self._model([parse_line_item(texts[i]).name for i in still])
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

    @staticmethod
    def learnable(text: str) -> tuple[str | None, str | None]:
        """The (name, short name) an item's sure reading teaches, normalised; None where it teaches none."""
        item = parse_line_item(text)
        name, short = normalise_term(item.name), normalise_term(item.short)
        return (name if len(name) >= MIN_LEARNED_LENGTH else None), (short or None)

    def _learn(self, items: Sequence[tuple[str, str]], readings: list[Reading]) -> Learned:
        names: dict[str, list[tuple[float, Distribution]]] = defaultdict(list)
        shorts: dict[str, list[tuple[float, Distribution]]] = defaultdict(list)
        for (text, _code), reading in zip(items, readings, strict=True):
            if not _sure(reading.distribution):
                continue
            name, short = self.learnable(text)
            if name:
                names[name].append((1.0, reading.distribution))
            if short:
                shorts[short].append((1.0, reading.distribution))
        keep = {n: d for n, d in ((n, _normalised(_summed(v))) for n, v in names.items()) if _sure(d)}
        return Learned(keep, {n: _normalised(_summed(v)) for n, v in shorts.items()})

    @staticmethod
    def firm_profiles(sales: Sequence[tuple[str, int, float]], readings: Sequence[Reading]) -> dict[str, Distribution]:
        """Per seller: the amount-weighted segments of the items it sells that have a reading."""
        by_seller: dict[str, list[tuple[float, Distribution]]] = defaultdict(list)
        for seller, index, amount in sales:
            if amount > 0:
                by_seller[seller].append((amount, readings[index].distribution))
        profiles = {seller: _normalised(_summed(parts)) for seller, parts in sorted(by_seller.items())}
        return {seller: d for seller, d in profiles.items() if d}

    # -- the same on an engine's tables (per batch / per group on the executors) ---------------------------
    def read_items_on(self, engine: Engine, prefix: str, items: str, sales: str) -> str:
        """``read_items`` where the data lives: ``items`` is a query of distinct (item_name, tax_code), tax
        code not NULL; ``sales`` one of (seller, item_name, tax_code, amount). Pass 1 per batch of items;
        the learned names, short names and seller profiles per group (each group's rows added in the
        order ``read_items`` adds them, so the floats are the same); only the learned vocabulary comes to
        the driver and goes out again with pass 2. Returns the temporary table of readings,
        ``<prefix>_read`` (``READING_SCHEMA``); the other ``<prefix>_…`` tables are its steps."""
        first, read = f"{prefix}_first", f"{prefix}_read"
        engine.map_batches(first, items, partial(_first_pass_batch, reader=self), FIRST_SCHEMA)
        for key in ("name", "short"):
            group_sum(engine, f"{prefix}_{key}s", [key], ["item_name", "tax_code"],
                      f"SELECT {key}, item_name, tax_code, CAST(1 AS DOUBLE) AS weight, dist FROM {first} "
                      f"WHERE sure AND {key} IS NOT NULL", keep_sure=key == "name")
        self.learned = Learned(*(_vocabulary(engine, f"{prefix}_{key}s", key) for key in ("name", "short")))
        firms = self.firm_profiles_on(engine, f"{prefix}_firms", sales, first)
        group_sum(engine, f"{prefix}_sellers", ["item_name", "tax_code"], ["seller"], f"""
            SELECT s.item_name, s.tax_code, s.seller, s.amount AS weight, p.dist
            FROM ({sales}) s JOIN {first} f ON f.item_name = s.item_name AND f.tax_code = s.tax_code
            JOIN {firms} p ON p.seller = s.seller WHERE f.pending AND s.amount > 0""")
        pending = bool(engine.scalar(f"SELECT count(*) FROM {first} WHERE pending"))
        engine.map_batches(read, f"""
            SELECT f.item_name, f.tax_code, f.how, f.span_start, f.span, f.dist, b.dist AS sellers
            FROM {first} f LEFT JOIN {prefix}_sellers b ON b.item_name = f.item_name AND b.tax_code = f.tax_code""",
                           partial(_second_pass_batch, reader=self.for_engine(engine, pending)), READING_SCHEMA)
        return read

    def for_engine(self, engine: Engine, model_needed: bool = True) -> ItemReader:
        """This reader, ready to be shipped: an engine that runs block functions in other processes gets
        the n-gram model fitted once here rather than once per task (in-process, it is fitted on first use)."""
        if model_needed and not engine.in_process:
            self.model.classes  # noqa: B018 - the cached fit
        return self

    @staticmethod
    def firm_profiles_on(engine: Engine, name: str, sales: str, readings: str) -> str:
        """``firm_profiles`` on an engine: temporary table ``name`` (seller, dist) from the ``sales`` query
        and a table of readings (item_name, tax_code, dist)."""
        group_sum(engine, name, ["seller"], ["item_name", "tax_code"], f"""
            SELECT s.seller, s.item_name, s.tax_code, s.amount AS weight, r.dist
            FROM ({sales}) s JOIN {readings} r ON r.item_name = s.item_name AND r.tax_code = s.tax_code
            WHERE s.amount > 0""")
        return name

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


# -- Arrow forms of readings, and the block functions ``read_items_on`` ships to an engine ---------------------
#: A distribution as a column: (segment_id, p) in the distribution's own order.
DISTRIBUTION = pa.list_(pa.struct([("segment_id", pa.string()), ("p", pa.float64())]))
READING_FIELDS = [("how", pa.string()), ("span_start", pa.int64()), ("span", pa.string()), ("dist", DISTRIBUTION)]
#: ``read_items_on``'s readings: one row per distinct (item_name, tax_code).
READING_SCHEMA = pa.schema([("item_name", pa.string()), ("tax_code", pa.string()), *READING_FIELDS])
#: Pass 1, with what a sure reading teaches (``learnable``) and whether pass 2 has work (``pending``).
FIRST_SCHEMA = pa.schema([*READING_SCHEMA, ("name", pa.string()), ("short", pa.string()), ("sure", pa.bool_()),
                          ("pending", pa.bool_())])


def to_column(distribution: Distribution) -> list[dict[str, Any]]:
    return [{"segment_id": s, "p": p} for s, p in distribution.items()]


def from_column(value: list[dict[str, Any]] | None) -> Distribution:
    return {e["segment_id"]: e["p"] for e in value or ()}


def reading_row(reading: Reading) -> dict[str, Any]:
    return {"how": reading.how, "span_start": reading.span_start, "span": reading.span,
            "dist": to_column(reading.distribution)}


def reading_of(row: dict[str, Any]) -> Reading:
    return Reading(from_column(row["dist"]), row["how"], row["span_start"], row["span"])


def _first_pass_batch(batch: pa.RecordBatch, *, reader: ItemReader) -> pa.Table:
    rows = []
    for row in batch.to_pylist():
        text = row["item_name"] or ""
        reading = reader._first_pass(text, row["tax_code"])
        sure = _sure(reading.distribution)
        name, short = reader.learnable(text) if sure else (None, None)
        rows.append({"item_name": row["item_name"], "tax_code": row["tax_code"], **reading_row(reading),
                     "name": name, "short": short, "sure": sure,
                     "pending": not reading.distribution and reading.how != "non_product"})
    return pa.Table.from_pylist(rows, schema=FIRST_SCHEMA)


def _second_pass_batch(batch: pa.RecordBatch, *, reader: ItemReader) -> pa.Table:
    rows = batch.to_pylist()
    texts = [row["item_name"] or "" for row in rows]
    second = [reader._second_pass(text, reading_of(row), from_column(row["sellers"]))  # normalised already
              for text, row in zip(texts, rows, strict=True)]
    readings = reader._model_last(texts, second)
    return pa.Table.from_pylist([{"item_name": row["item_name"], "tax_code": row["tax_code"], **reading_row(reading)}
                                 for row, reading in zip(rows, readings, strict=True)], schema=READING_SCHEMA)


def _group_sum_batch(group: pa.RecordBatch, *, keys: Sequence[str], order: Sequence[str], keep_sure: bool,
                     schema: pa.Schema) -> pa.Table:
    """One group: Σ weight × dist over its rows in ``order`` (as ``read_items`` adds them), normalised."""
    rows = sorted(group.to_pylist(), key=lambda r: tuple(r[c] for c in order))
    total = _normalised(_summed((r["weight"], from_column(r["dist"])) for r in rows))
    keep = _sure(total) if keep_sure else bool(total)
    out = [{**{k: rows[0][k] for k in keys}, "dist": to_column(total)}] if rows and keep else []
    return pa.Table.from_pylist(out, schema=schema)


def group_sum(engine: Engine, name: str, keys: list[str], order: list[str], sql: str, *, keep_sure: bool = False) -> None:
    """Temporary table ``name`` (keys…, dist): per group of ``keys`` in query ``sql`` (keys, order columns,
    weight, dist), the normalised weighted sum of the rows' distributions; with ``keep_sure`` only sure
    ones, else the non-empty ones."""
    schema = pa.schema([*((k, pa.string()) for k in keys), ("dist", DISTRIBUTION)])
    engine.map_batches(name, sql, partial(_group_sum_batch, keys=tuple(keys), order=tuple(order), keep_sure=keep_sure,
                                          schema=schema), schema, group_by=keys)


def _vocabulary(engine: Engine, table: str, key: str) -> dict[str, Distribution]:
    """A learned vocabulary (names or short names: one per distinct sure item name, small) for the driver."""
    rows = engine.query(f"SELECT {key}, dist FROM {table} ORDER BY {key}").to_pylist()
    return {r[key]: from_column(r["dist"]) for r in rows}


def read_products_batch(batch: pa.RecordBatch, *, reader: ItemReader, text: str, profile: str | None) -> pa.Table:
    """``read_products`` over one batch: column ``text`` and (optionally) the listing firm's profile
    column ``profile``; out: the batch's columns with the reading's."""
    rows = batch.to_pylist()
    firms = [from_column(r[profile]) or None if profile else None for r in rows]
    readings = reader.read_products([r[text] or "" for r in rows], firms)
    schema = pa.schema([*batch.schema, *READING_FIELDS])
    return pa.Table.from_pylist([{**r, **reading_row(reading)} for r, reading in zip(rows, readings, strict=True)],
                                schema=schema)
