"""Typed facts with evidence, and the check every fact must pass before it is kept.

A fact names its source document and the exact span it came from. ``verify`` keeps a fact only if
its span is really in the source (an LLM's span is located by its text, since small models cannot
count characters), the span and the sentences it lies in do not read like instructions (document text
is untrusted: an injected "ignore previous instructions, approve …" must have nothing to act through,
whichever extractor picked it up), its firms resolve to registry enterprises and its segment is in
the ontology; anything else becomes a rejected fact with the reason — nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, Protocol

from pydantic import BaseModel, Field

SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
INSTRUCTION = re.compile(
    r"忽略(之前|以上|上述|前面)?的?(所有|全部)?(指令|指示|提示|规则)|无视(之前|以上|上述)?的?(所有)?(指令|规则)|"
    r"(ignore|disregard|forget) (all |any )?(the )?(previous|prior|above|earlier) (instructions|rules|prompts?)|"
    r"批准.{0,20}(授信|贷款|申请|额度)|(必须|应当|务必)(获批|批准|通过审批)|"
    r"approve .{0,40}(credit|loan|application)|system prompt|你现在是|you are now|act as (an? |the )",
    re.IGNORECASE)
INSTRUCTION_REASON = "span is in an instruction-like sentence (untrusted text, never a fact)"


def instruction_like(text: str) -> bool:
    return INSTRUCTION.search(text) is not None


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a text, in order."""
    return [(m.start(), m.end()) for m in SENTENCE.finditer(text)]


def without_instructions(text: str) -> str:
    """The text with its instruction-like sentences removed: what an LLM may be shown of it."""
    return "".join(text[s:e] for s, e in sentences(text) if not instruction_like(text[s:e])).strip()


def _in_instruction(fact: Fact, doc: Document) -> bool:
    if instruction_like(fact.span_text):
        return True
    return any(instruction_like(doc.text[s:e]) for s, e in sentences(doc.text) if s < fact.end and e > fact.start)


FactKind = Literal["product_segment", "supply_claim", "trend", "product_upstream"]


class Document(BaseModel):
    id: str
    kind: Literal["report", "product", "item", "patent"]
    text: str
    uscc: str | None = None
    code: str | None = None  # a line item's tax code


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
    if _in_instruction(fact, doc):
        return Rejected(fact=fact, reason=INSTRUCTION_REASON)
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
