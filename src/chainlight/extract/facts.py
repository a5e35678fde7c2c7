"""Typed facts with evidence, and the check every fact must pass before it is kept.

A fact names its source document and the exact span it came from. ``verify`` keeps a fact only if
its span is really in the source (an LLM's span is located by its text, since small models cannot
count characters), its firms resolve to registry enterprises and its segment is in the ontology;
anything else becomes a rejected fact with the reason — nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from pydantic import BaseModel, Field

FactKind = Literal["product_segment", "supply_claim", "trend", "product_upstream"]


class Document(BaseModel):
    id: str
    kind: Literal["report", "product", "item", "patent"]
    text: str
    uscc: str | None = None


class Fact(BaseModel):
    kind: FactKind
    source: str
    source_id: str
    start: int
    end: int
    span_text: str
    subject: str | None = None  # a firm name as written, or the product term
    relation: str = ""  # in_segment | supplies | trend | upstream_of
    object: str | None = None  # the buyer as written, for supply claims
    segment_id: str | None = None
    direction: Literal["up", "flat", "down"] | None = None
    value: float | None = None  # a figure stated with the fact (growth %)
    subject_uscc: str | None = None
    object_uscc: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    method: Literal["offline", "llm"] = "offline"


class Extractor(Protocol):
    """What every extractor does: documents in, candidate facts (unverified) out."""

    method: str

    def extract_many(self, docs: list[Document]) -> list[Fact]: ...


class Rejected(BaseModel):
    fact: Fact
    reason: str


Resolve = Callable[[str], str | None]


def locate(fact: Fact, doc: Document) -> Fact | None:
    """The fact with offsets that point at its span text in the document, or None if it is not there."""
    if 0 <= fact.start < fact.end <= len(doc.text) and doc.text[fact.start:fact.end] == fact.span_text:
        return fact
    found = doc.text.find(fact.span_text) if fact.span_text else -1
    if found < 0:
        return None
    return fact.model_copy(update={"start": found, "end": found + len(fact.span_text)})


def verify(fact: Fact, doc: Document, resolve: Resolve, segments: set[str]) -> Fact | Rejected:
    located = locate(fact, doc)
    if located is None:
        return Rejected(fact=fact, reason="span not found in the source text")
    fact = located
    if fact.segment_id is not None and fact.segment_id not in segments:
        return Rejected(fact=fact, reason=f"unknown segment {fact.segment_id!r}")
    if fact.kind == "supply_claim":
        for name, field in ((fact.subject, "subject_uscc"), (fact.object, "object_uscc")):
            if not name or name not in fact.span_text:
                return Rejected(fact=fact, reason=f"firm {name!r} is not named in the span")
            uscc = resolve(name)
            if uscc is None:
                return Rejected(fact=fact, reason=f"firm {name!r} does not resolve to a registry enterprise")
            fact = fact.model_copy(update={field: uscc})
        if fact.subject_uscc == fact.object_uscc:
            return Rejected(fact=fact, reason="a firm cannot supply itself")
    if fact.kind == "trend" and (fact.direction is None or fact.segment_id is None):
        return Rejected(fact=fact, reason="a trend needs a segment and a direction")
    return fact
