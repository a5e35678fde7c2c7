"""The offline extractor: lexicons, patterns and a character n-gram model — no network, the default.

- line items → segment: ``ontology.items.ItemReader`` — the item parsed as written
  (``*简称*名称 规格 单位``), non-product lines (freight, fees, pallets, rebates) left without a fact,
  lexicon hits and the tax code's segments, then names learned from the items it was sure of, the
  sellers' other goods and the n-gram model of ``ontology.signals``;
- product and patent text → segment: lexicon hits (longest match), else learned item names, else the
  n-gram model (averaged, for a product listing, with its firm's goods on the invoices);
- report sentences → trend statements (方向 + figure + the segment the sentence names), supply
  claims (two firm names found by the resolver's gazetteer around a supply phrase) and product →
  upstream product statements (是…的原料, …的原材料为…, 以…为原料) between ontology product terms;
- sentences that read like instructions (忽略之前的指令, approve …; ``facts.INSTRUCTION``) are never
  turned into facts: they are reported as ignored (``verify`` rejects any fact inside one, too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

import ahocorasick

from chainlight.engine.base import TableRef
from chainlight.extract.facts import SENTENCE, Document, Fact, instruction_like
from chainlight.ontology.items import ItemReader, Reading
from chainlight.ontology.model import Ontology
from chainlight.ontology.signals import SegmentLexicon, SegmentTextModel
from chainlight.resolve import blocks
from chainlight.resolve.reports import find_mentions, gazetteer

UP = re.compile(r"增长|上升|提升|增加|扩张|回暖|上行")
DOWN = re.compile(r"下滑|下降|下行|减少|萎缩|收缩|疲软")
FLAT = re.compile(r"持平|平稳|稳定运行")
PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
SUPPLY = re.compile(r"供应商|供货|配套|采购")
# "Y是X的上游原料" / "X的主要原材料为Y" / "X以Y为原料": product Y upstream of product X
UPSTREAM = [re.compile(r"(?P<up>[\w\u4e00-\u9fff]{2,12})是(?P<down>[\w\u4e00-\u9fff]{2,12})的(?:上游)?(?:主要)?(?:原料|原材料)"),
            re.compile(r"(?P<down>[\w\u4e00-\u9fff]{2,12})的(?:上游|主要)?(?:原料|原材料)(?:为|是|包括)(?P<up>[\w\u4e00-\u9fff]{2,12})"),
            re.compile(r"(?P<down>[\w\u4e00-\u9fff]{2,12})以(?P<up>[\w\u4e00-\u9fff]{2,12})为(?:主要)?(?:原料|原材料)")]
# a fact's confidence = its segment's share × how much the way it was read is trusted (ordered by how
# often each way was right on the synthetic economies; the LLM cascade asks about facts below 0.6)
HOW_CONFIDENCE = {"lexicon": 0.97, "lexicon+tax_code": 0.97, "tax_code": 0.9, "learned": 0.85,
                  "learned+sellers": 0.85, "model+sellers": 0.8, "sellers": 0.8, "model": 0.9}


class OfflineExtractor:
    """The default ``Extractor`` (see ``facts.Extractor``)."""

    method = "offline"

    def __init__(self, ontology: Ontology, firm_names: Iterable[str] | TableRef, *, seed: int,
                 sales: Sequence[tuple[str, str, float]] = ()) -> None:
        """``firm_names``: the names supply claims look for in report text, or a reference to the registry
        (``resolve.shared_registry``), which the gazetteer is then built from where the reports are read
        (once per process: shipped to executors, the extractor carries the reference, not the names);
        ``sales``: (seller USCC, line-item document id, amount) rows: which firm sells which item."""
        self.lexicon = SegmentLexicon(ontology)
        self.model = SegmentTextModel(ontology, seed)
        self.reader = ItemReader(self.lexicon, self.model)
        self.sales = sales
        self.segment_names = {s.name: s.id for s in ontology.segments().values()}
        self.firms = firm_names if isinstance(firm_names, TableRef) else None
        self._automaton = None if isinstance(firm_names, TableRef) else gazetteer(firm_names)
        self.ignored_instructions = 0

    @property
    def automaton(self) -> ahocorasick.Automaton:
        if self._automaton is not None:
            return self._automaton
        assert self.firms is not None
        return blocks.firm_gazetteer(self.firms)

    def extract_many(self, docs: list[Document]) -> list[Fact]:
        facts: list[Fact] = []
        items = [d for d in docs if d.kind == "item"]
        index = {d.id: i for i, d in enumerate(items)}
        sales = [(seller, index[item], amount) for seller, item, amount in self.sales if item in index]
        readings = self.reader.read_items([(d.text, d.code or "") for d in items], sales)
        firms = self.reader.firm_profiles(sales, readings)
        for doc, reading in zip(items, readings, strict=True):
            facts += self._segment_facts(doc, reading)
        texts = [d for d in docs if d.kind in ("product", "patent")]
        profiles = [firms.get(d.uscc or "") if d.kind == "product" else None for d in texts]
        for doc, reading in zip(texts, self.reader.read_products([d.text for d in texts], profiles), strict=True):
            facts += self._segment_facts(doc, reading)
        for doc in (d for d in docs if d.kind == "report"):
            facts += self._report_facts(doc)
        return facts

    def _segment_facts(self, doc: Document, reading: Reading) -> list[Fact]:
        if not reading.distribution or not reading.span:
            return []
        segment, share = max(reading.distribution.items(), key=lambda kv: (kv[1], kv[0]))
        confidence = HOW_CONFIDENCE.get(reading.how, 0.5) * (1.0 if share > 0.99 else share)
        start, span = reading.span_start, reading.span
        return [Fact(kind="product_segment", source=doc.kind, source_id=doc.id, start=start, end=start + len(span),
                     span_text=span, subject=span, relation="in_segment", segment_id=segment, subject_uscc=doc.uscc,
                     confidence=round(confidence, 4))]

    def _upstream_facts(self, doc: Document, sentence: str, start: int) -> list[Fact]:
        """Product → upstream product statements, when both ends are ontology product terms."""
        facts = []
        for pattern in UPSTREAM:
            for match in pattern.finditer(sentence):
                up = [h for h in self.lexicon.product_hits(match.group("up"))]
                down = [h for h in self.lexicon.product_hits(match.group("down"))]
                if up and down:
                    facts.append(Fact(kind="product_upstream", source=doc.kind, source_id=doc.id, start=start,
                                      end=start + len(sentence), span_text=sentence, subject=up[-1].term,
                                      relation="upstream_of", object=down[-1].term, confidence=0.8))
        return facts

    def _report_facts(self, doc: Document) -> list[Fact]:
        facts = []
        automaton = self.automaton
        for match in SENTENCE.finditer(doc.text):
            sentence, start = match.group(0), match.start()
            if instruction_like(sentence):
                self.ignored_instructions += 1
                continue
            upstream = self._upstream_facts(doc, sentence, start)
            if upstream:
                facts += upstream
                continue
            names = find_mentions(sentence, automaton) if len(automaton) else []
            if len(names) >= 2 and SUPPLY.search(sentence):
                facts.append(Fact(kind="supply_claim", source="report", source_id=doc.id, start=start,
                                  end=start + len(sentence), span_text=sentence, subject=names[0].name,
                                  object=names[1].name, relation="supplies", confidence=0.9))
                continue
            direction: Literal["up", "flat", "down"] | None = (
                "down" if DOWN.search(sentence) else "up" if UP.search(sentence) else
                "flat" if FLAT.search(sentence) else None)
            segment = next((sid for name, sid in self.segment_names.items() if name in sentence), None)
            if direction and segment:
                figure = PERCENT.search(sentence)
                facts.append(Fact(kind="trend", source="report", source_id=doc.id, start=start,
                                  end=start + len(sentence), span_text=sentence, subject=segment, relation="trend",
                                  segment_id=segment, direction=direction,
                                  value=float(figure.group(1)) if figure else None, confidence=0.85))
        return facts
