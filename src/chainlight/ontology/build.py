"""Build a chain ontology from real industry-chain relation data (the ``chain_kg`` layout).

Mapping (see ``/work/shared/data/chain_kg/SOURCE.md`` for the files):
- a Shenwan 2021 level-1 industry (``xx0000``) with level-3 children → a chain ``sw<code>``;
- each level-3 industry (``xxxxxx``) → a segment ``sw<level-1 code>.<code>``, named as Shenwan names it,
  its Shenwan code in ``industry_codes`` (6 digits, so it cannot collide with a GB/T 4754 code) and its
  name without the Ⅱ/Ⅲ suffix as a scope term;
- tiers are the chain's level-2 industries, ordered upstream first by the mean upstream depth (longest
  path from a segment with no upstream, over all chains' edges: most edges cross chains) of their
  segments; ties by code. The industry links are sparse and noisy, so on real data this order is a
  rough guide (metals and chemicals come out right; within automotive it does not);
- products: the main products (``company_product``) of the companies labelled with the segment's
  industry (``company_industry``, matched by code, else by name). A company's revenue share per product
  is clipped to (0, 1] (non-positive rows dropped, duplicate pairs keep the largest share); a term's
  score in a segment is the sum of its companies' shares. A term whose weight is spread over chains (its
  best chain holds less than ``min_chain_share`` of it: 平衡项目, 租赁, …) is dropped as generic. Each
  remaining term goes to the one segment where its score is largest, and each segment keeps its
  ``max_products`` (100) best terms; a product's ``weight`` is its share of the segment's total score;
- segment edges: ``industry_up`` counts, weight = count / the target's total upstream count; cycles
  are broken by adding edges strongest first and dropping any edge that would close a cycle — so every
  dropped edge is the weakest of a cycle it closes (ties broken by ids); each edge sits in its target's
  chain;
- product relations (``product_product``) go to a CSV side file ``<out stem>.product_edges.csv``
  named by the YAML's ``product_edges_file``: 上游材料 (to_entity is a material of from_entity) becomes
  ``to upstream_of from``; 下游产品 becomes ``from upstream_of to``; 产品小类 becomes
  ``from subcategory to`` (to is a sub-category of from). Self-loops and repeats are dropped.

Product names are cleaned (whitespace and newlines removed between CJK characters, collapsed
elsewhere; empty, number-only and over-long names dropped).
"""

from __future__ import annotations

import csv
import graphlib
import hashlib
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from chainlight.errors import InputError
from chainlight.ontology.model import (
    PRODUCT_EDGE_COLUMNS,
    Chain,
    Ontology,
    Product,
    Segment,
    SegmentEdge,
    normalise_term,
)
from chainlight.ontology.validate import validate

log = logging.getLogger(__name__)

FILES = ("industry.jsonl", "industry_industry.jsonl", "industry_up.jsonl", "company_industry.jsonl",
         "company_product.jsonl", "product_product.jsonl")
PRODUCT_RELATION_OF = {"上游材料": "upstream_of", "下游产品": "upstream_of", "产品小类": "subcategory"}
MAX_PRODUCT_NAME = 40

ProductEdgeRow = tuple[str, str, str]  # source, target, relation

_CJK = r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]"
_SPACE_NEAR_CJK = re.compile(rf"(?<={_CJK})\s+|\s+(?={_CJK})")
_SPACES = re.compile(r"\s+")
_NO_WORD = re.compile(r"^[\W\d_]*$")
_LEVEL_SUFFIX = re.compile(r"[ⅡⅢ]$")


@dataclass(frozen=True)
class BuildSummary:
    version: str
    chains: int
    segments: int
    segments_with_products: int
    products: int
    segment_edges: int
    cross_chain_edges: int
    cycles_broken: int
    edges_unknown_industry: int
    generic_terms_dropped: int
    company_product_rows_dropped: int
    product_edges: int
    seconds: float

    def __str__(self) -> str:
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in asdict(self).items())


def clean_name(raw: object) -> str:
    """A product name as one line: no whitespace beside CJK text, single spaces elsewhere; '' if unusable."""
    if not isinstance(raw, str):
        return ""
    name = _SPACES.sub(" ", _SPACE_NEAR_CJK.sub("", raw)).strip()
    return "" if len(name) > MAX_PRODUCT_NAME or _NO_WORD.match(name) else name


class Record(dict[str, Any]):
    """One JSON line that knows where it came from, so a missing field is reported with file and row."""

    def __init__(self, data: dict[str, Any], path: Path, row: int) -> None:
        super().__init__(data)
        self.path, self.row = path, row

    def need(self, key: str) -> Any:
        if key not in self:
            raise InputError("missing field", file=str(self.path), row=self.row, field=key)
        return self[key]


def read_records(folder: Path, name: str) -> Iterator[Record]:
    """The JSON objects of one chain_kg file; a broken line is an InputError naming the file and row."""
    path = folder / name
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg}", file=str(path), row=number) from exc
            if not isinstance(data, dict):
                raise InputError("not a JSON object", file=str(path), row=number)
            yield Record(data, path, number)


def _level(code: str) -> int:
    return 1 if code.endswith("0000") else 2 if code.endswith("00") else 3


class Industries:
    """Shenwan industries: names, levels and the level-3 → level-2 → level-1 parents."""

    def __init__(self, folder: Path) -> None:
        self.name: dict[str, str] = {}
        for record in read_records(folder, "industry.jsonl"):
            code = str(record.need("code")).strip()
            if not re.fullmatch(r"\d{6}", code):
                raise InputError(f"industry code {code!r} is not 6 digits", file=str(record.path), row=record.row,
                                 field="code")
            self.name[code] = str(record.need("name")).strip()
        self.code_of = {name: code for code, name in self.name.items()}
        self.parent: dict[str, str] = {}
        for record in read_records(folder, "industry_industry.jsonl"):
            child = str(record.need("from_code"))
            self.parent[child] = str(record.need("to_code"))
        self.level3 = sorted(c for c in self.name if _level(c) == 3)

    def level2_of(self, code: str) -> str:
        parent = self.parent.get(code, code[:4] + "00")
        return parent if parent in self.name else code[:4] + "00"

    def level1_of(self, code: str) -> str:
        return code[:2] + "0000"

    def resolve(self, code: str, name: str) -> str | None:
        """A level-3 code from a label's code, else its name (labels mix Shenwan 2014 and 2021 codes)."""
        if code in self.name and _level(code) == 3:
            return code
        found = self.code_of.get(name)
        return found if found and _level(found) == 3 else None


def _segment_id(code: str) -> str:
    return f"sw{code[:2]}0000.{code}"


def _company_terms(folder: Path, industries: Industries) -> tuple[dict[str, dict[str, float]], int]:
    """level-3 code -> {product term: summed revenue share of its labelled companies}; rows dropped."""
    label: dict[str, str] = {}
    for record in read_records(folder, "company_industry.jsonl"):
        code = industries.resolve(str(record.get("industry_code") or ""), str(record.get("industry_name") or ""))
        company = record.need("company_code")
        if code and company:
            label[str(company)] = code
    best: dict[tuple[str, str], float] = {}
    dropped = 0
    for record in read_records(folder, "company_product.jsonl"):
        company = str(record.need("company_code"))
        term = clean_name(record.need("product_name"))
        weight = record.get("rel_weight")
        if company not in label or not term or not isinstance(weight, int | float) or not weight > 0:
            dropped += company in label
            continue
        key = (company, term)
        best[key] = max(best.get(key, 0.0), min(float(weight), 1.0))
    scores: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (company, term), weight in best.items():
        scores[label[company]][term] += weight
    return scores, dropped


def _assign_products(scores: dict[str, dict[str, float]], min_chain_share: float,
                     max_products: int) -> tuple[dict[str, list[Product]], int]:
    """Each specific term in its best segment; the top ``max_products`` per segment, weighted by share."""
    by_term: dict[str, dict[str, float]] = defaultdict(dict)  # normalised term -> segment -> score
    surface: dict[str, str] = {}
    for segment, terms in scores.items():
        for term, score in terms.items():
            key = normalise_term(term)
            by_term[key][segment] = by_term[key].get(segment, 0.0) + score
            surface[key] = min(surface.get(key, term), term)  # one spelling per term, whatever the order
    owned: dict[str, list[tuple[float, str]]] = defaultdict(list)
    generic = 0
    for key, per_segment in by_term.items():
        per_chain: dict[str, float] = defaultdict(float)
        for segment, score in per_segment.items():
            per_chain[segment[:2]] += score
        if max(per_chain.values()) < min_chain_share * sum(per_chain.values()):
            generic += 1
            continue
        segment = min(per_segment, key=lambda s: (-per_segment[s], s))
        owned[segment].append((per_segment[segment], key))
    products: dict[str, list[Product]] = {}
    for segment, candidates in owned.items():
        total = sum(scores[segment].values())
        top = sorted(candidates, key=lambda c: (-c[0], c[1]))[:max_products]
        products[segment] = [Product(name=surface[term], weight=max(round(share / total, 4), 0.0001))
                             for share, term in top]
    return products, generic


def _industry_edges(folder: Path, industries: Industries) -> tuple[dict[tuple[str, str], float], int]:
    """(upstream level-3, target level-3) -> share of the target's upstream count; names not level-3 counted."""
    counts: dict[tuple[str, str], float] = {}
    unknown = 0
    for record in read_records(folder, "industry_up.jsonl"):
        target = industries.resolve("", str(record.need("industry")))
        ups = record.get("ups") or {}
        if not isinstance(ups, dict):
            raise InputError("ups is not a mapping", file=str(record.path), row=record.row, field="ups")
        for name, count in ups.items():
            source = industries.resolve("", str(name))
            if target is None or source is None:
                unknown += 1
            elif source != target and isinstance(count, int | float) and count > 0:
                counts[(source, target)] = counts.get((source, target), 0.0) + float(count)
    totals: dict[str, float] = defaultdict(float)
    for (_, target), count in counts.items():
        totals[target] += count
    return {edge: count / totals[edge[1]] for edge, count in counts.items()}, unknown


def break_cycles(weights: dict[tuple[str, str], float]) -> tuple[list[tuple[str, str]], int]:
    """Keep edges strongest first unless one closes a cycle (then it is that cycle's weakest): a DAG."""
    downstream: dict[str, set[str]] = defaultdict(set)

    def reaches(start: str, goal: str) -> bool:
        stack, seen = [start], {start}
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            for nxt in downstream[node] - seen:
                seen.add(nxt)
                stack.append(nxt)
        return False

    kept, dropped = [], 0
    for source, target in sorted(weights, key=lambda e: (-weights[e], e)):
        if reaches(target, source):
            dropped += 1
            continue
        downstream[source].add(target)
        kept.append((source, target))
    return sorted(kept), dropped


def _depths(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a node with no upstream, over a DAG."""
    upstream: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        upstream[target].append(source)
    depth: dict[str, int] = {}
    for node in graphlib.TopologicalSorter({n: upstream[n] for n in nodes}).static_order():
        depth[node] = max((depth[u] + 1 for u in upstream[node]), default=0)
    return {n: depth[n] for n in nodes}


def _product_edges(folder: Path) -> list[ProductEdgeRow]:
    edges: set[ProductEdgeRow] = set()
    name = "product_product.jsonl"
    for record in read_records(folder, name):
        relation = PRODUCT_RELATION_OF.get(str(record.need("rel")))
        first = clean_name(record.need("from_entity"))
        second = clean_name(record.need("to_entity"))
        if relation is None or not first or not second or normalise_term(first) == normalise_term(second):
            continue
        source, target = (second, first) if record["rel"] == "上游材料" else (first, second)
        edges.add((source, target, relation))
    return sorted(edges)


def _version(folder: Path, *settings: object) -> str:
    """Content-addressed: the same files and settings give the same version."""
    digest = hashlib.sha256(repr(settings).encode())
    for name in FILES:
        digest.update((folder / name).read_bytes())
    return f"chain_kg-{digest.hexdigest()[:12]}"


def build_ontology(src: Path, *, min_chain_share: float = 0.5,
                   max_products: int = 100) -> tuple[Ontology, list[ProductEdgeRow], dict[str, int]]:
    """The ontology, its product relations and the build's counters (no files written)."""
    folder = Path(src)
    if not folder.is_dir():
        raise InputError("not a folder of chain_kg files", file=str(folder))
    industries = Industries(folder)
    scores, rows_dropped = _company_terms(folder, industries)
    products, generic = _assign_products(scores, min_chain_share, max_products)
    weights, unknown = _industry_edges(folder, industries)
    edges, cycles = break_cycles(weights)
    depth = _depths(industries.level3, edges)
    chains = []
    for chain_code in sorted({industries.level1_of(c) for c in industries.level3}):
        members = [c for c in industries.level3 if industries.level1_of(c) == chain_code]
        groups: dict[str, list[str]] = defaultdict(list)
        for code in members:
            groups[industries.level2_of(code)].append(code)
        tier_order = sorted(groups, key=lambda g: (sum(depth[c] for c in groups[g]) / len(groups[g]), g))
        segments = [Segment(
            id=_segment_id(code), name=industries.name[code], tier=industries.name[industries.level2_of(code)],
            products=products.get(code, []), scope_terms=[_LEVEL_SUFFIX.sub("", industries.name[code])],
            industry_codes=[code]) for code in members]
        chain_edges = [SegmentEdge(source=_segment_id(s), target=_segment_id(t), weight=round(weights[(s, t)], 6) or 1e-6)
                       for s, t in edges if t in members]
        chains.append(Chain(id=f"sw{chain_code}", name=industries.name[chain_code],
                            tiers=[industries.name[g] for g in tier_order], segments=segments, edges=chain_edges))
    ontology = Ontology(version=_version(folder, min_chain_share, max_products), chains=chains)
    counters = {"cycles_broken": cycles, "edges_unknown_industry": unknown, "generic_terms_dropped": generic,
                "company_product_rows_dropped": rows_dropped}
    return ontology, _product_edges(folder), counters


def build_from_chain_kg(src: Path, out: Path) -> BuildSummary:
    """Write ``out`` (ontology YAML) and ``<out stem>.product_edges.csv`` beside it; both pass validation."""
    started = time.perf_counter()
    out = Path(out)
    ontology, product_edges, counters = build_ontology(src)
    side_file = out.with_name(f"{out.stem}.product_edges.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    with side_file.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PRODUCT_EDGE_COLUMNS)
        writer.writerows(product_edges)
    ontology.product_edges_file = side_file.name
    ontology._base = out.parent
    validate(ontology)
    document = ontology.model_dump(exclude_defaults=True)
    header = (f"# Built by `chainlight ontology build` from {Path(src).name} (Shenwan 2021 industries; "
              "see chainlight.ontology.build)\n")
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, default_flow_style=None, width=120)
    out.write_text(header + body, encoding="utf-8")
    segments = ontology.segments()
    chain_of = {s.id: c.id for c in ontology.chains for s in c.segments}
    summary = BuildSummary(
        version=ontology.version, chains=len(ontology.chains), segments=len(segments),
        segments_with_products=sum(1 for s in segments.values() if s.products),
        products=sum(len(s.products) for s in segments.values()), segment_edges=len(ontology.edges()),
        cross_chain_edges=sum(1 for e in ontology.edges() if chain_of[e.source] != chain_of[e.target]),
        product_edges=len(product_edges), seconds=round(time.perf_counter() - started, 2), **counters)
    log.info("built ontology %s", summary)
    return summary
