"""Typed chain ontology: chain → tier → segment (→ sub-segment) → product concepts, plus upstream edges.

The default ontology is versioned YAML in ``default/`` (one file per chain). Segment ids are global
(``<chain>.<segment>``) so an edge may cross chains (a chemical segment feeding automotive and medical).
A chain's ``tiers`` are ordered from the most upstream (raw materials) to the most downstream.

Loading checks the YAML's structure (types, required fields) and raises ``InputError`` naming the file
and field; the ontology's meaning (ids, references, cycles, duplicate terms) is checked by
``chainlight.ontology.validate``.

Product-to-product relations (a material upstream of a product, a product's sub-categories) can be
large, so they live in a CSV side file named by ``product_edges_file`` (relative to the YAML) and are
read on demand as Arrow by ``Ontology.product_edges()``.
"""

from __future__ import annotations

import re
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from chainlight.errors import InputError

PRODUCT_RELATIONS = ("upstream_of", "subcategory")
"""``upstream_of``: source is an upstream material of target. ``subcategory``: target is a sub-category of source."""

PRODUCT_EDGE_COLUMNS = ("source", "target", "relation")

_SPACE = re.compile(r"\s+")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def normalise_term(text: str) -> str:
    """The form terms are compared and matched in: NFKC (full-width → half-width), case-folded, no whitespace."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).casefold()


class Product(BaseModel):
    """A product concept under a segment; synonyms are the surface forms seen in text."""

    name: str
    synonyms: list[str] = Field(default_factory=list)
    description: str = ""
    shared: bool = Field(default=False, description="May also appear in other segments (each of them must mark it shared).")
    weight: float | None = Field(default=None, description="Share of the segment's business this product stands for, in (0, 1].")


class Segment(BaseModel):
    id: str
    name: str
    tier: str
    parent: str | None = Field(default=None, description="A broader segment of the same chain this one refines.")
    products: list[Product] = Field(default_factory=list)
    scope_terms: list[str] = Field(default_factory=list)
    industry_codes: list[str] = Field(default_factory=list)
    tax_codes: list[str] = Field(default_factory=list)
    ipc: list[str] = Field(default_factory=list)


class SegmentEdge(BaseModel):
    """``source`` is upstream of ``target``; ``weight`` is its optional cost share in the target, in (0, 1]."""

    source: str
    target: str
    weight: float | None = None


class Chain(BaseModel):
    id: str
    name: str
    tiers: list[str]
    segments: list[Segment]
    edges: list[SegmentEdge] = Field(default_factory=list)
    _source: str | None = PrivateAttr(None)

    @property
    def source(self) -> str | None:
        """The file this chain was read from (named in validation errors)."""
        return self._source

    def tier_rank(self, tier: str) -> int:
        """0 for the most upstream tier."""
        return self.tiers.index(tier)


class Ontology(BaseModel):
    version: str
    chains: list[Chain]
    product_edges_file: str | None = Field(
        default=None, description="CSV (source,target,relation) of product relations, relative to the ontology file.")
    _source: str | None = PrivateAttr(None)
    _base: Path | None = PrivateAttr(None)

    @property
    def source(self) -> str | None:
        return self._source

    def segments(self) -> dict[str, Segment]:
        return {s.id: s for c in self.chains for s in c.segments}

    def chain_of(self, segment_id: str) -> Chain:
        for chain in self.chains:
            if any(s.id == segment_id for s in chain.segments):
                return chain
        raise KeyError(segment_id)

    def edges(self) -> list[SegmentEdge]:
        return [e for c in self.chains for e in c.edges]

    def product_edges_path(self) -> Path | None:
        if not self.product_edges_file:
            return None
        path = Path(self.product_edges_file)
        return path if path.is_absolute() or self._base is None else self._base / path

    def product_edges(self) -> pa.Table:
        """Product relations (source, target, relation) as strings; empty when the ontology has none."""
        path = self.product_edges_path()
        if path is None:
            return pa.table({c: pa.array([], pa.string()) for c in PRODUCT_EDGE_COLUMNS})
        options = pacsv.ConvertOptions(column_types={c: pa.string() for c in PRODUCT_EDGE_COLUMNS},
                                       strings_can_be_null=False)
        try:
            table = pacsv.read_csv(path, convert_options=options)
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"cannot read product edges: {exc}", file=str(path)) from exc
        missing = [c for c in PRODUCT_EDGE_COLUMNS if c not in table.column_names]
        if missing:
            raise InputError(f"product edges file lacks column(s) {', '.join(missing)}", file=str(path))
        return table.select(list(PRODUCT_EDGE_COLUMNS))


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_YAML_LOADER)  # a safe loader; the C one when PyYAML has it
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {' '.join(str(exc).split())}", file=source) from exc


def _parse(model: type[BaseModel], data: Any, source: str) -> Any:
    if not isinstance(data, dict):
        raise InputError("must be a YAML mapping", file=source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(first["msg"], file=source, field=field) from exc


def load_file(path: Path) -> Ontology:
    """One YAML file holding ``version`` and ``chains`` (what ``ontology build`` writes)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ontology: {exc}", file=str(path)) from exc
    ontology: Ontology = _parse(Ontology, _read_yaml(text, str(path)), str(path))
    ontology._source, ontology._base = str(path), path.parent
    for chain in ontology.chains:
        chain._source = str(path)
    return ontology


def load_default() -> Ontology:
    """The 9 default chains shipped with the package (``default/manifest.yaml`` lists the files)."""
    folder = resources.files("chainlight.ontology") / "default"
    manifest = _read_yaml((folder / "manifest.yaml").read_text(encoding="utf-8"), "default/manifest.yaml")
    chains = []
    for name in manifest["chains"]:
        source = f"default/{name}"
        chain: Chain = _parse(Chain, _read_yaml((folder / name).read_text(encoding="utf-8"), source), source)
        chain._source = source
        chains.append(chain)
    ontology = Ontology(version=str(manifest["version"]), chains=chains)
    ontology._source = "default/manifest.yaml"
    return ontology
