"""The offline extractor per batch of documents, for ``Engine.map_batches`` (on Spark, on the executors).

Each block function turns a batch of one kind of document into candidate facts, each checked by
``verify`` at once: a row per candidate with ``reason`` NULL when kept. The order columns (``_part``,
``_k1``, ``_k2``, ``_n``) put the rows back in the order ``OfflineExtractor.extract_many`` makes them
(line items, then product listings and patents, then reports; within a document, in text order), so
the stage writes the same tables on every engine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from chainlight.engine.base import TableRef
from chainlight.extract.facts import SENTENCE, Document, Fact, Rejected, instruction_like, verify
from chainlight.extract.offline import OfflineExtractor
from chainlight.ontology.items import reading_of
from chainlight.resolve import blocks

FACT_FIELDS = [("fact_id", pa.string()), ("kind", pa.string()), ("source", pa.string()), ("source_id", pa.string()),
               ("start", pa.int64()), ("end", pa.int64()), ("span_text", pa.string()), ("subject", pa.string()),
               ("relation", pa.string()), ("object", pa.string()), ("segment_id", pa.string()),
               ("direction", pa.string()), ("value", pa.float64()), ("subject_uscc", pa.string()),
               ("object_uscc", pa.string()), ("confidence", pa.float64()), ("method", pa.string())]
#: A checked candidate: the fact, why it was rejected (NULL: kept), and where it stands in the output.
CANDIDATE_SCHEMA = pa.schema([*FACT_FIELDS, ("reason", pa.string()), ("_part", pa.int64()), ("_k1", pa.string()),
                              ("_k2", pa.string()), ("_n", pa.int64())])
ITEMS, PRODUCTS, PATENTS, REPORTS, LLM = 0, 1, 2, 3, 4  # ``_part``: the order extract_many makes facts in


def item_id(item_name: str, tax_code: str | None) -> str:
    return f"{item_name}|{tax_code or ''}"


def fact_id(fact: Fact) -> str:
    material = f"{fact.method}|{fact.kind}|{fact.source}|{fact.source_id}|{fact.start}|{fact.end}|{fact.segment_id}"
    return hashlib.sha1(f"{material}|{fact.subject}|{fact.object}".encode()).hexdigest()[:20]


@dataclass
class Verifier:
    """``verify`` with the segments and (for supply claims) the registry's names, caching resolved names.

    Holds a reference to the registry (``resolve.shared_registry``), never its rows: shipped to executors,
    each process reads the registry and builds its resolver once (``resolve.blocks.resolver``, shared with
    the resolve stage's block functions)."""

    segments: frozenset[str]
    registry: TableRef | None = None
    _cache: dict[str, str | None] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": {}}

    def resolve(self, name: str) -> str | None:
        if self.registry is None:
            raise ValueError("this verifier resolves no firm names")
        if name not in self._cache:
            self._cache[name] = blocks.resolver(self.registry).resolve(name).uscc
        return self._cache[name]

    def check(self, fact: Fact, doc: Document) -> tuple[Fact, str | None]:
        outcome = verify(fact, doc, self.resolve, set(self.segments))
        return (outcome.fact, outcome.reason) if isinstance(outcome, Rejected) else (outcome, None)


def candidate_row(fact: Fact, reason: str | None, order: tuple[int, str, str, int]) -> dict[str, Any]:
    record = fact.model_dump()
    row = {name: record.get(name) for name, _ in FACT_FIELDS[1:]}
    return {"fact_id": fact_id(fact), **row, "reason": reason,
            **dict(zip(("_part", "_k1", "_k2", "_n"), order, strict=True))}


def _checked(facts: list[Fact], doc: Document, verifier: Verifier, part: int, k1: str, k2: str) -> list[dict[str, Any]]:
    return [candidate_row(*verifier.check(fact, doc), (part, k1, k2, n)) for n, fact in enumerate(facts)]


def item_facts(batch: pa.RecordBatch, *, offline: OfflineExtractor, verifier: Verifier) -> pa.Table:
    """Readings of distinct line items (``ItemReader.read_items_on``) → their segment facts."""
    rows = []
    for row in batch.to_pylist():
        doc = Document(id=item_id(row["item_name"], row["tax_code"]), kind="item", text=row["item_name"],
                       code=row["tax_code"] or "")
        facts = offline._segment_facts(doc, reading_of(row))
        rows += _checked(facts, doc, verifier, ITEMS, row["item_name"], row["tax_code"] or "")
    return pa.Table.from_pylist(rows, schema=CANDIDATE_SCHEMA)


def text_facts(batch: pa.RecordBatch, *, offline: OfflineExtractor, verifier: Verifier) -> pa.Table:
    """Product listings and patents (columns kind, id, text, uscc, profile, _part, _k1, _k2) → segment facts;
    a listing's unread text is averaged with its firm's profile from the invoices."""
    rows = batch.to_pylist()
    docs = [Document(id=r["id"], kind=r["kind"], text=r["text"] or "", uscc=r["uscc"]) for r in rows]
    profiles = [{e["segment_id"]: e["p"] for e in r["profile"]} if r["profile"] else None for r in rows]
    out = []
    for r, doc, reading in zip(rows, docs, offline.reader.read_products([d.text for d in docs], profiles), strict=True):
        out += _checked(offline._segment_facts(doc, reading), doc, verifier, r["_part"], r["_k1"], r["_k2"])
    return pa.Table.from_pylist(out, schema=CANDIDATE_SCHEMA)


def report_facts(batch: pa.RecordBatch, *, offline: OfflineExtractor, verifier: Verifier) -> pa.Table:
    """Research reports (columns id, text) → trends, supply claims and upstream statements."""
    out = []
    for r in batch.to_pylist():
        doc = Document(id=r["id"], kind="report", text=r["text"] or "")
        out += _checked(offline._report_facts(doc), doc, verifier, REPORTS, doc.id, "")
    return pa.Table.from_pylist(out, schema=CANDIDATE_SCHEMA)


#: ``_extract_llm_raw``: an LLM's fact (as JSON) with the document it is about and its place in the output.
LLM_FACT_SCHEMA = pa.schema([("fact", pa.string()), ("id", pa.string()), ("kind", pa.string()), ("text", pa.string()),
                             ("uscc", pa.string()), ("code", pa.string()), ("n", pa.int64())])


def llm_fact_row(fact: Fact, doc: Document, n: int) -> dict[str, Any]:
    return {"fact": fact.model_dump_json(), **doc.model_dump(), "n": n}


def llm_facts(batch: pa.RecordBatch, *, verifier: Verifier) -> pa.Table:
    """The LLM's facts (``LLM_FACT_SCHEMA``), each checked against its document, in the cascade's order."""
    out = []
    for r in batch.to_pylist():
        doc = Document(id=r["id"], kind=r["kind"], text=r["text"], uscc=r["uscc"], code=r["code"])
        out.append(candidate_row(*verifier.check(Fact.model_validate_json(r["fact"]), doc), (LLM, "", "", r["n"])))
    return pa.Table.from_pylist(out, schema=CANDIDATE_SCHEMA)


IGNORED_SCHEMA = pa.schema([("id", pa.string()), ("ignored", pa.int64())])


def ignored_instructions(batch: pa.RecordBatch) -> pa.Table:
    """Per report (columns id, text): how many of its sentences read like instructions (never facts)."""
    rows = [{"id": r["id"], "ignored": sum(1 for m in SENTENCE.finditer(r["text"] or "") if instruction_like(m.group(0)))}
            for r in batch.to_pylist()]
    return pa.Table.from_pylist(rows, schema=IGNORED_SCHEMA)
