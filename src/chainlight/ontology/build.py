"""Build a chain ontology from real industry-chain relation data (the chain_kg layout).

Mapping (documented so a user can judge it):
- a Shenwan level-1 industry → a chain; its level-3 industries → segments (``sw.<code>``);
- products of a segment: the main products (company_product, revenue-weighted) of the listed
  companies labelled with that industry, the top ``PRODUCTS_PER_SEGMENT`` by weight; a product term
  stays only in the segment where its weight is largest, so terms are unambiguous;
- segment edges: industry_up (upstream industry → industry), weight = count / all upstream counts
  of the target; cycles are broken by dropping the weakest edge of each cycle found (reported);
- tiers: upstream / midstream / downstream by a segment's depth in the upstream graph (longest path
  from a segment with no upstream: 0, 1, ≥ 2).
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from chainlight.errors import InputError
from chainlight.ontology.model import Chain, Ontology, Product, Segment, SegmentEdge
from chainlight.ontology.validate import find_cycle, validate

PRODUCTS_PER_SEGMENT = 15
TIERS = ["upstream", "midstream", "downstream"]
REQUIRED = ("industry.jsonl", "industry_industry.jsonl", "industry_up.jsonl", "company_industry.jsonl",
            "company_product.jsonl")


@dataclass
class BuildSummary:
    chains: int
    segments: int
    products: int
    edges: int
    cycles_broken: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.chains} chains, {self.segments} segments, {self.products} product terms, {self.edges} edges "
                f"({self.cycles_broken} dropped to break cycles) in {self.seconds:.1f} s")


def _rows(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path)) from exc


def _clean(term: str) -> str:
    return re.sub(r"\s+", "", term or "")


def build_from_chain_kg(src: Path, out: Path) -> BuildSummary:
    started = time.perf_counter()
    src = Path(src)
    missing = [f for f in REQUIRED if not (src / f).exists()]
    if missing:
        raise InputError(f"not a chain_kg folder: missing {', '.join(missing)}", file=str(src))
    names = {r["code"]: r["name"] for r in _rows(src / "industry.jsonl")}
    parent = {r["from_code"]: r["to_code"] for r in _rows(src / "industry_industry.jsonl")}

    def level1(code: str) -> str:
        while code in parent:
            code = parent[code]
        return code

    level3 = sorted(c for c in names if not c.endswith("00"))
    by_name = {}
    for code in level3:
        by_name.setdefault(names[code], code)
    labels = {r["company_code"].upper(): r["industry_code"] for r in _rows(src / "company_industry.jsonl")}
    weight: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))  # product → segment → weight
    for row in _rows(src / "company_product.jsonl"):
        segment = labels.get(row["company_code"].upper())
        term = _clean(row["product_name"])
        if segment and 2 <= len(term) <= 20:
            weight[term][segment] += min(max(float(row.get("rel_weight") or 0.0), 0.0), 1.0) or 0.01
    owned: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for term, per_segment in weight.items():
        best = max(per_segment.items(), key=lambda kv: (kv[1], kv[0]))
        owned[best[0]].append((best[1], term))

    counts: dict[tuple[str, str], float] = {}
    for row in _rows(src / "industry_up.jsonl"):
        target = by_name.get(row["industry"])
        for up_name, count in (row.get("ups") or {}).items():
            source = by_name.get(up_name)
            if target and source and source != target:
                counts[(source, target)] = counts.get((source, target), 0.0) + float(count)
    dropped = 0
    while cycle := find_cycle(set(counts)):
        weakest = min(zip(cycle, cycle[1:], strict=False), key=lambda e: (counts[e], e))
        del counts[weakest]
        dropped += 1
    totals: dict[str, float] = defaultdict(float)
    for (_, target), count in counts.items():
        totals[target] += count
    depth = _depths(level3, set(counts))

    chains: dict[str, list[Segment]] = defaultdict(list)
    for code in level3:
        terms = [t for _, t in sorted(owned.get(code, []), key=lambda wt: (-wt[0], wt[1]))[:PRODUCTS_PER_SEGMENT]]
        chains[level1(code)].append(Segment(
            id=f"sw.{code}", name=names[code], tier=TIERS[min(depth[code], 2)],
            products=[Product(name=t) for t in terms], scope_terms=[names[code]], industry_codes=[code]))
    chain_of = {f"sw.{c}": level1(c) for c in level3}
    edges_by_chain: dict[str, list[SegmentEdge]] = defaultdict(list)
    for (source, target), count in sorted(counts.items()):
        edges_by_chain[chain_of[f"sw.{target}"]].append(SegmentEdge(
            source=f"sw.{source}", target=f"sw.{target}", weight=round(max(count / totals[target], 1e-4), 4)))
    ontology = Ontology(version=f"chain_kg-{date.today().isoformat()}", chains=[
        Chain(id=f"sw.{code}", name=names.get(code, code), tiers=TIERS, segments=segments,
              edges=edges_by_chain.get(code, []))
        for code, segments in sorted(chains.items())])
    validate(ontology, str(out))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(ontology.model_dump(exclude_defaults=True), allow_unicode=True, sort_keys=False),
                   encoding="utf-8")
    products = sum(len(s.products) for c in ontology.chains for s in c.segments)
    return BuildSummary(len(ontology.chains), len(level3), products, len(counts), dropped,
                        time.perf_counter() - started)


def _depths(nodes: list[str], edges: set[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a node with no upstream, over an acyclic edge set."""
    upstream: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        upstream[target].append(source)
    depth: dict[str, int] = {}

    def of(node: str) -> int:
        if node not in depth:
            depth[node] = 0  # provisional; the graph is acyclic
            depth[node] = max((of(u) + 1 for u in upstream.get(node, [])), default=0)
        return depth[node]

    for node in nodes:
        of(node)
    return depth
