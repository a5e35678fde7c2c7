"""The LLM extractor and the cascade: offline first, the LLM only where the offline path is unsure.

The LLM sees one document at a time under a versioned prompt and answers in a JSON schema; its
facts carry ``method = llm`` and pass the same ``verify`` as offline facts, so a made-up span or firm
lands in ``rejected_facts``. Documents go to the LLM when the offline path found nothing, or only a
low-confidence product/segment guess, and only while the call budget lasts. Document text is
untrusted: the LLM is never shown an instruction-like sentence, and a document with nothing else in it
is not sent at all (``verify`` rejects any fact from such a sentence, whoever made it).
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from pydantic import BaseModel, Field

from chainlight.extract.facts import Document, Fact, without_instructions
from chainlight.extract.llm import LLMClient

PROMPT_VERSION = "facts_v1"
UNSURE_BELOW = 0.6
MAX_DOCUMENT_CHARS = 1500


class LLMFact(BaseModel):
    kind: Literal["product_segment", "supply_claim", "trend"]
    span_text: str = Field(max_length=400)
    subject: str | None = None
    object: str | None = None
    segment_id: str | None = None
    direction: Literal["up", "flat", "down"] | None = None
    value: float | None = None


class LLMFacts(BaseModel):
    facts: list[LLMFact] = Field(default_factory=list, max_length=20)


def prompt(segments: list[str]) -> str:
    template = (resources.files("chainlight.extract") / "prompts" / f"{PROMPT_VERSION}.md").read_text(encoding="utf-8")
    return template.format(segments=", ".join(segments))


def llm_facts(client: LLMClient, docs: list[Document], segments: list[str]) -> list[Fact]:
    system = prompt(segments)
    shown = [(d, without_instructions(d.text)[:MAX_DOCUMENT_CHARS]) for d in docs]
    docs = [d for d, text in shown if text]
    answers = client.map(PROMPT_VERSION, system, [text for _, text in shown if text], LLMFacts)
    facts = []
    for doc, answer in zip(docs, answers, strict=True):
        for item in (answer.facts if answer else []):
            relation = {"product_segment": "in_segment", "supply_claim": "supplies", "trend": "trend"}[item.kind]
            facts.append(Fact(kind=item.kind, source=doc.kind, source_id=doc.id, start=-1, end=-1,
                              span_text=item.span_text, subject=item.subject, object=item.object,
                              relation=relation, segment_id=item.segment_id, direction=item.direction,
                              value=item.value, confidence=0.5, method="llm"))
    return facts


class LLMExtractor:
    """The LLM as an ``Extractor``: one call per document, facts left for ``verify`` to judge."""

    method = "llm"

    def __init__(self, client: LLMClient, segments: list[str]) -> None:
        self.client, self.segments = client, segments

    def extract_many(self, docs: list[Document]) -> list[Fact]:
        return llm_facts(self.client, docs, self.segments)

