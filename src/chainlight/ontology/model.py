"""Typed chain ontology: chain → tier → segment → product concepts, plus upstream edges and a lexicon.

The default ontology is versioned YAML in ``default/`` (one file per chain). Segment ids are global
(``<chain>.<segment>``) so an edge may cross chains (a chemical segment feeding automotive and medical).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field


class Product(BaseModel):
    """A product concept under a segment; synonyms are the surface forms seen in text."""

    name: str
    synonyms: list[str] = Field(default_factory=list)
    description: str = ""
    shared: bool = False  # the term may also name a product of another segment (ambiguous on purpose)


class Segment(BaseModel):
    id: str
    name: str
    tier: str
    products: list[Product] = Field(default_factory=list)
    scope_terms: list[str] = Field(default_factory=list)
    industry_codes: list[str] = Field(default_factory=list)
    tax_codes: list[str] = Field(default_factory=list)
    ipc: list[str] = Field(default_factory=list)


class SegmentEdge(BaseModel):
    """``source`` is upstream of ``target``; ``weight`` is its optional cost share in the target."""

    source: str
    target: str
    weight: float | None = None


class Chain(BaseModel):
    id: str
    name: str
    tiers: list[str]
    segments: list[Segment]
    edges: list[SegmentEdge] = Field(default_factory=list)


class Ontology(BaseModel):
    version: str
    chains: list[Chain]

    def segments(self) -> dict[str, Segment]:
        return {s.id: s for c in self.chains for s in c.segments}

    def chain_of(self, segment_id: str) -> Chain:
        for chain in self.chains:
            if any(s.id == segment_id for s in chain.segments):
                return chain
        raise KeyError(segment_id)

    def edges(self) -> list[SegmentEdge]:
        return [e for c in self.chains for e in c.edges]


def load_file(path: Path) -> Ontology:
    """One YAML file holding ``version`` and ``chains`` (what ``ontology build`` writes)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return Ontology.model_validate(data)


def load_default() -> Ontology:
    """The 9 default chains shipped with the package (``default/manifest.yaml`` lists the files)."""
    folder = resources.files("chainlight.ontology") / "default"
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    chains = [Chain.model_validate(yaml.safe_load((folder / name).read_text(encoding="utf-8")))
              for name in manifest["chains"]]
    return Ontology(version=str(manifest["version"]), chains=chains)
