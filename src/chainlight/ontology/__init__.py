"""Stage ``ontology``: the chain ontology as tables every later stage can join against.

Reads: the ontology YAML named by ``Config.ontology`` (or the 9 default chains) and, when it names
one, its product-edges side file. No workspace table.

Writes (each row with ``run_id``):
- ``chains``        chain_id, name, tiers (JSON list, most upstream first), ontology_version
- ``segments``      segment_id, chain_id, name, tier, tier_rank (0 = most upstream), parent_id
                    (the concept hierarchy is chain → tier → segment → sub-segment via parent_id)
- ``segment_edges`` source_segment_id (upstream of) target_segment_id, weight, cross_chain
- ``lexicon``       term, normalised, kind, segment_id, chain_id, concept, weight (see ``lexicon``)
- ``product_edges`` source, target, relation (upstream_of | subcategory), source_normalised,
                    target_normalised — empty unless the ontology has a product-edges file

The ontology is validated first; an invalid one raises ``InputError`` and the previous tables stay.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.compute as pc

from chainlight import tables
from chainlight.config import Config
from chainlight.ontology import lexicon
from chainlight.ontology.model import Ontology, load_default, load_file
from chainlight.ontology.validate import validate
from chainlight.tables import Column, TableSpec
from chainlight.workspace import StageResult, Workspace

log = logging.getLogger(__name__)

STAGE = "ontology"
#: Runs on any engine: it builds small tables from the YAML and writes them through the engine.
ENGINE_NEEDS: frozenset[str] = frozenset()

CHAINS = tables.register(TableSpec("chains", STAGE, (
    Column("chain_id", "VARCHAR"), Column("name", "VARCHAR"), Column("tiers", "VARCHAR"),
    Column("ontology_version", "VARCHAR")), key=("chain_id",),
    description="Industry chains with their tiers (JSON list, most upstream first) and the ontology version."))
SEGMENTS = tables.register(TableSpec("segments", STAGE, (
    Column("segment_id", "VARCHAR"), Column("chain_id", "VARCHAR"), Column("name", "VARCHAR"),
    Column("tier", "VARCHAR"), Column("tier_rank", "INTEGER"), Column("parent_id", "VARCHAR")), key=("segment_id",),
    description="Chain segments; tier_rank 0 is the most upstream tier; parent_id a broader segment or NULL."))
SEGMENT_EDGES = tables.register(TableSpec("segment_edges", STAGE, (
    Column("source_segment_id", "VARCHAR"), Column("target_segment_id", "VARCHAR"), Column("weight", "DOUBLE"),
    Column("cross_chain", "BOOLEAN")), key=("source_segment_id", "target_segment_id"),
    description="Source segment is upstream of target segment (a DAG over all chains); weight in (0,1] or NULL."))
LEXICON = tables.register(TableSpec("lexicon", STAGE, (
    Column("term", "VARCHAR"), Column("normalised", "VARCHAR"), Column("kind", "VARCHAR"),
    Column("segment_id", "VARCHAR"), Column("chain_id", "VARCHAR"), Column("concept", "VARCHAR"),
    Column("weight", "DOUBLE")), key=("normalised", "kind", "segment_id"),
    description="Terms and codes that point at a segment; weight = 1 / segments sharing the term."))
PRODUCT_EDGES = tables.register(TableSpec("product_edges", STAGE, (
    Column("source", "VARCHAR"), Column("target", "VARCHAR"), Column("relation", "VARCHAR"),
    Column("source_normalised", "VARCHAR"), Column("target_normalised", "VARCHAR")),
    key=("source", "target", "relation"),
    description="Product relations: source upstream_of target, or target a subcategory of source."))


def load(path: Path | None) -> Ontology:
    """The ontology at ``path`` (or the default one), validated: bad input raises ``InputError``."""
    ontology = load_file(Path(path)) if path else load_default()
    validate(ontology)
    return ontology


def run(ws: Workspace, cfg: Config) -> StageResult:
    """Load and validate the ontology, then swap in its five tables at once."""
    with ws.stage(STAGE) as w:
        ontology = load(cfg.ontology)
        w.write_arrow(CHAINS.name, lexicon.chains_table(ontology))
        w.write_arrow(SEGMENTS.name, lexicon.segments_table(ontology))
        edges = lexicon.segment_edges_table(ontology)
        w.write_arrow(SEGMENT_EDGES.name, edges)
        w.write_arrow(LEXICON.name, lexicon.lexicon_table(ontology))
        w.write_arrow(PRODUCT_EDGES.name, lexicon.product_edges_table(ontology))
        w.stats.update(ontology_version=ontology.version, source=ontology.source or "default",
                       cross_chain_edges=pc.sum(edges["cross_chain"]).as_py() or 0)
    log.info("ontology %s: %s", ontology.version, w.counts)
    return StageResult(STAGE, w.run_id, tables=dict(w.counts), stats=dict(w.stats))
