"""The ontology flattened into the tables later stages join against.

``lexicon`` is the table the extractor and the mount stage spot products and segments with: one row per
(term, kind, segment). ``normalised`` is ``normalise_term(term)``; normalise the text the same way before
matching. ``concept`` is what the term stands for: the product a synonym names, else the term itself.
``weight`` is the term's specificity, 1 / the number of segments whose lexicon holds the same normalised
term in the same family (text terms: product, synonym, scope_term; each code kind on its own), so a
term shared by two segments counts half as much evidence for each.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pyarrow as pa

from chainlight.ontology.model import Ontology, normalise_term

LEXICON_KINDS = ("product", "synonym", "scope_term", "tax_code", "ipc", "industry_code")
_FAMILY = {"product": "text", "synonym": "text", "scope_term": "text",
           "tax_code": "tax_code", "ipc": "ipc", "industry_code": "industry_code"}


def chains_table(ontology: Ontology) -> pa.Table:
    return pa.table({
        "chain_id": [c.id for c in ontology.chains],
        "name": [c.name for c in ontology.chains],
        "tiers": [json.dumps(c.tiers, ensure_ascii=False) for c in ontology.chains],
        "ontology_version": [ontology.version] * len(ontology.chains),
    })


def segments_table(ontology: Ontology) -> pa.Table:
    pairs = [(c, s) for c in ontology.chains for s in c.segments]
    return pa.table({
        "segment_id": pa.array([s.id for _, s in pairs], pa.string()),
        "chain_id": pa.array([c.id for c, _ in pairs], pa.string()),
        "name": pa.array([s.name for _, s in pairs], pa.string()),
        "tier": pa.array([s.tier for _, s in pairs], pa.string()),
        "tier_rank": pa.array([c.tier_rank(s.tier) for c, s in pairs], pa.int32()),
        "parent_id": pa.array([s.parent for _, s in pairs], pa.string()),
    })


def segment_edges_table(ontology: Ontology) -> pa.Table:
    chain_of = {s.id: c.id for c in ontology.chains for s in c.segments}
    edges = sorted(ontology.edges(), key=lambda e: (e.source, e.target))
    return pa.table({
        "source_segment_id": pa.array([e.source for e in edges], pa.string()),
        "target_segment_id": pa.array([e.target for e in edges], pa.string()),
        "weight": pa.array([e.weight for e in edges], pa.float64()),
        "cross_chain": pa.array([chain_of[e.source] != chain_of[e.target] for e in edges], pa.bool_()),
    })


def lexicon_table(ontology: Ontology) -> pa.Table:
    """(term, normalised, kind, segment_id, chain_id, concept, weight), sorted; see the module docstring."""
    rows: dict[tuple[str, str, str], tuple[str, str, str]] = {}  # (normalised, kind, segment) -> (term, chain, concept)
    for chain in ontology.chains:
        for segment in chain.segments:
            entries = [(p.name, "product", p.name) for p in segment.products]
            entries += [(s, "synonym", p.name) for p in segment.products for s in p.synonyms]
            entries += [(t, "scope_term", t) for t in segment.scope_terms]
            entries += [(t, "tax_code", t) for t in segment.tax_codes]
            entries += [(t, "ipc", t) for t in segment.ipc]
            entries += [(t, "industry_code", t) for t in segment.industry_codes]
            for term, kind, concept in entries:
                key = (normalise_term(term), kind, segment.id)
                rows.setdefault(key, (term.strip(), chain.id, concept.strip()))
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for normalised, kind, segment_id in rows:
        holders[(normalised, _FAMILY[kind])].add(segment_id)
    ordered = sorted(rows.items())
    return pa.table({
        "term": pa.array([v[0] for _, v in ordered], pa.string()),
        "normalised": pa.array([k[0] for k, _ in ordered], pa.string()),
        "kind": pa.array([k[1] for k, _ in ordered], pa.string()),
        "segment_id": pa.array([k[2] for k, _ in ordered], pa.string()),
        "chain_id": pa.array([v[1] for _, v in ordered], pa.string()),
        "concept": pa.array([v[2] for _, v in ordered], pa.string()),
        "weight": pa.array([1.0 / len(holders[(k[0], _FAMILY[k[1]])]) for k, _ in ordered], pa.float64()),
    })


def product_edges_table(ontology: Ontology) -> pa.Table:
    """The product relations with both ends normalised, ready to join with ``lexicon.normalised``."""
    edges = ontology.product_edges()
    return pa.table({
        "source": edges["source"], "target": edges["target"], "relation": edges["relation"],
        "source_normalised": pa.array([normalise_term(t) for t in edges["source"].to_pylist()], pa.string()),
        "target_normalised": pa.array([normalise_term(t) for t in edges["target"].to_pylist()], pa.string()),
    }).sort_by([("source", "ascending"), ("relation", "ascending"), ("target", "ascending")])

