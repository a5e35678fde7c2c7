"""Stage ``ontology``: the chain ontology as tables every later stage can join against.

Reads the ontology YAML (``Config.ontology``, or the 9 default chains shipped in ``default/``),
validates it (``validate``: duplicate ids, unknown tiers, dangling or self edges, weights outside
(0, 1], cycles in upstream_of, duplicate product terms unless marked shared) and writes ``chains``,
``segments`` (with the concept hierarchy chain → tier → segment as ``tier_rank``), ``segment_edges``
and ``lexicon`` (every product term, synonym, scope term and code, with its segment).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from chainlight import tables
from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.ontology.model import Ontology, load_default, load_file
from chainlight.ontology.validate import validate
from chainlight.workspace import StageResult, Workspace

_c = tables.Column
tables.register(tables.TableSpec("chains", "ontology", (
    _c("chain_id", "VARCHAR"), _c("name", "VARCHAR"), _c("tiers", "VARCHAR"), _c("ontology_version", "VARCHAR")),
    key=("chain_id",), description="Industry chains; tiers as a JSON list, most upstream first."))
tables.register(tables.TableSpec("segments", "ontology", (
    _c("segment_id", "VARCHAR"), _c("chain_id", "VARCHAR"), _c("name", "VARCHAR"), _c("tier", "VARCHAR"),
    _c("tier_rank", "BIGINT")), key=("segment_id",), description="Chain segments (tier_rank 0 = most upstream)."))
tables.register(tables.TableSpec("segment_edges", "ontology", (
    _c("source_segment_id", "VARCHAR"), _c("target_segment_id", "VARCHAR"), _c("weight", "DOUBLE"),
    _c("cross_chain", "BOOLEAN")), key=("source_segment_id", "target_segment_id"),
    description="source is upstream of target; weight = optional cost share."))
tables.register(tables.TableSpec("lexicon", "ontology", (
    _c("term", "VARCHAR"), _c("normalised_term", "VARCHAR"), _c("kind", "VARCHAR"), _c("segment_id", "VARCHAR"),
    _c("chain_id", "VARCHAR"), _c("weight", "DOUBLE")),
    description="Terms and codes that point at segments: product, synonym, scope_term, tax_code, ipc, industry_code."))

KIND_WEIGHT = {"product": 1.0, "synonym": 0.9, "scope_term": 0.4, "tax_code": 0.6, "ipc": 0.5, "industry_code": 0.2}


def load(cfg: Config) -> Ontology:
    """The configured ontology, validated; a broken file is one InputError naming it."""
    if cfg.ontology is None:
        ontology, source = load_default(), "default ontology"
    else:
        path = Path(cfg.ontology)
        if not path.exists():
            raise InputError("ontology file does not exist", file=str(path))
        try:
            ontology = load_file(path)
        except Exception as exc:  # YAML or schema error: name the file
            raise InputError(f"not a valid ontology: {str(exc).splitlines()[0]}", file=str(path)) from exc
        source = str(path)
    validate(ontology, source)
    return ontology


def lexicon_rows(ontology: Ontology) -> dict[str, list]:
    rows: dict[str, list] = {k: [] for k in ("term", "normalised_term", "kind", "segment_id", "chain_id", "weight")}
    for chain in ontology.chains:
        for segment in chain.segments:
            entries = [(p.name, "product") for p in segment.products]
            entries += [(s, "synonym") for p in segment.products for s in p.synonyms]
            entries += [(t, "scope_term") for t in segment.scope_terms]
            entries += [(c, "tax_code") for c in segment.tax_codes] + [(c, "ipc") for c in segment.ipc]
            entries += [(c, "industry_code") for c in segment.industry_codes]
            for term, kind in entries:
                for key, value in (("term", term), ("normalised_term", term.strip().upper()), ("kind", kind),
                                   ("segment_id", segment.id), ("chain_id", chain.id), ("weight", KIND_WEIGHT[kind])):
                    rows[key].append(value)
    return rows


def run(ws: Workspace, cfg: Config) -> StageResult:
    ontology = load(cfg)
    chain_of = {s.id: c.id for c in ontology.chains for s in c.segments}
    edges = ontology.edges()
    with ws.stage("ontology") as writer:
        writer.write_arrow("chains", pa.table({
            "chain_id": [c.id for c in ontology.chains], "name": [c.name for c in ontology.chains],
            "tiers": [json.dumps(c.tiers, ensure_ascii=False) for c in ontology.chains],
            "ontology_version": [ontology.version] * len(ontology.chains)}))
        writer.write_arrow("segments", pa.table({
            "segment_id": [s.id for c in ontology.chains for s in c.segments],
            "chain_id": [c.id for c in ontology.chains for _ in c.segments],
            "name": [s.name for c in ontology.chains for s in c.segments],
            "tier": [s.tier for c in ontology.chains for s in c.segments],
            "tier_rank": pa.array([c.tiers.index(s.tier) for c in ontology.chains for s in c.segments], pa.int64())}))
        writer.write_arrow("segment_edges", pa.table({
            "source_segment_id": pa.array([e.source for e in edges], pa.string()),
            "target_segment_id": pa.array([e.target for e in edges], pa.string()),
            "weight": pa.array([e.weight for e in edges], pa.float64()),
            "cross_chain": pa.array([chain_of[e.source] != chain_of[e.target] for e in edges], pa.bool_())}))
        writer.write_arrow("lexicon", pa.table(lexicon_rows(ontology)))
        writer.stats["ontology_version"] = ontology.version
    return StageResult("ontology", writer.run_id, dict(writer.counts), dict(writer.stats))
