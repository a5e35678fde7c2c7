"""What makes an ontology usable, checked before any stage relies on it.

Rules (each problem names the file and the offending id):
- ids and names are non-empty; chain ids and segment ids are unique (segment ids across all chains);
- a chain's tiers are non-empty and distinct; a segment's tier is one of its chain's tiers;
- a segment's ``parent`` is another segment of the same chain, and parent links have no cycle;
- an edge joins two known segments (any chains), is not a self-loop, appears once, and its weight is
  in (0, 1] when given; the upstream graph over ALL chains is a DAG (an upstream chain may not be
  fed back by its own downstream);
- product terms (names and synonyms, compared by ``normalise_term``) are unique within a segment, and
  across segments unless every product carrying the term is marked ``shared: true``; scope terms and
  codes may repeat across segments (they are evidence, not identity) but not within one segment;
- product weights are in (0, 1] when given;
- the product-edges side file, when named, exists, has source/target/relation, known relations and no
  empty names (product relations may have cycles: they are noisy real data, not a supply order).
"""

from __future__ import annotations

import graphlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from chainlight.errors import InputError
from chainlight.ontology.model import PRODUCT_RELATIONS, Chain, Ontology, Segment, normalise_term

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    file: str | None
    field: str
    message: str
    row: int | None = None

    def error(self, more: int = 0) -> InputError:
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        return InputError(self.message + suffix, file=self.file, row=self.row, field=self.field)


def problems(ontology: Ontology) -> list[Problem]:
    """Every problem found, in a stable order (ontology, chains, segments, products, edges, product edges)."""
    found: list[Problem] = []
    if not ontology.version.strip():
        found.append(Problem(ontology.source, "version", "ontology version is empty"))
    found += _chain_problems(ontology)
    found += _segment_problems(ontology)
    found += _term_problems(ontology)
    found += _edge_problems(ontology)
    found += _product_edge_problems(ontology)
    return found


def validate(ontology: Ontology) -> None:
    """Raise ``InputError`` for the first problem (saying how many more there are)."""
    found = problems(ontology)
    if found:
        log.debug("ontology problems: %s", found)
        raise found[0].error(len(found) - 1)


def _chain_problems(ontology: Ontology) -> list[Problem]:
    found = []
    ids = Counter(c.id for c in ontology.chains)
    for chain in ontology.chains:
        if not chain.id.strip():
            found.append(Problem(chain.source, "id", f"chain named {chain.name!r} has an empty id"))
        elif ids[chain.id] > 1:
            found.append(Problem(chain.source, "id", f"duplicate chain id {chain.id!r}"))
        if not chain.name.strip():
            found.append(Problem(chain.source, "name", f"chain {chain.id!r} has an empty name"))
        if not chain.tiers:
            found.append(Problem(chain.source, "tiers", f"chain {chain.id!r} has no tiers"))
        if any(not t.strip() for t in chain.tiers):
            found.append(Problem(chain.source, "tiers", f"chain {chain.id!r} has an empty tier name"))
        for tier, count in Counter(chain.tiers).items():
            if count > 1:
                found.append(Problem(chain.source, "tiers", f"chain {chain.id!r} lists tier {tier!r} twice"))
    return found


def _segment_problems(ontology: Ontology) -> list[Problem]:
    found = []
    ids = Counter(s.id for c in ontology.chains for s in c.segments)
    chain_of = {s.id: c for c in ontology.chains for s in c.segments}
    for chain in ontology.chains:
        for segment in chain.segments:
            where = chain.source
            if not segment.id.strip():
                found.append(Problem(where, "segments.id", f"segment named {segment.name!r} has an empty id"))
            elif ids[segment.id] > 1:
                found.append(Problem(where, "segments.id", f"duplicate segment id {segment.id!r}"))
            if not segment.name.strip():
                found.append(Problem(where, "segments.name", f"segment {segment.id!r} has an empty name"))
            if segment.tier not in chain.tiers:
                found.append(Problem(where, "segments.tier", f"segment {segment.id!r} has tier {segment.tier!r}, "
                                     f"not one of chain {chain.id!r}'s tiers {chain.tiers}"))
            if segment.parent is not None and chain_of.get(segment.parent) is not chain:
                found.append(Problem(where, "segments.parent", f"segment {segment.id!r} has parent "
                                     f"{segment.parent!r}, which is not a segment of chain {chain.id!r}"))
            found += _list_problems(chain, segment)
    found += _cycle_problems(
        {s.id: [s.parent] for c in ontology.chains for s in c.segments if s.parent in chain_of},
        lambda cycle: Problem(ontology.chain_of(cycle[0]).source, "segments.parent",
                              f"segment parent links form a cycle: {' → '.join(cycle)}"))
    return found


def _list_problems(chain: Chain, segment: Segment) -> list[Problem]:
    """Scope terms and codes: no empty entry, no entry twice in one segment."""
    found = []
    for field in ("scope_terms", "industry_codes", "tax_codes", "ipc"):
        values: list[str] = getattr(segment, field)
        if any(not v.strip() for v in values):
            found.append(Problem(chain.source, f"segments.{field}", f"segment {segment.id!r} has an empty {field} entry"))
        for value, count in Counter(normalise_term(v) for v in values if v.strip()).items():
            if count > 1:
                found.append(Problem(chain.source, f"segments.{field}",
                                     f"segment {segment.id!r} lists {field} entry {value!r} twice"))
    return found


def _term_problems(ontology: Ontology) -> list[Problem]:
    found = []
    # normalised term -> [(segment id, product name, shared, file)]
    holders: dict[str, list[tuple[str, str, bool, str | None]]] = defaultdict(list)
    for chain in ontology.chains:
        for segment in chain.segments:
            seen: dict[str, str] = {}
            for product in segment.products:
                if product.weight is not None and not 0 < product.weight <= 1:
                    found.append(Problem(chain.source, "products.weight", f"segment {segment.id!r} product "
                                         f"{product.name!r} has weight {product.weight}, outside (0, 1]"))
                for term in (product.name, *product.synonyms):
                    key = normalise_term(term)
                    if not key:
                        found.append(Problem(chain.source, "products", f"segment {segment.id!r} has an empty "
                                             f"product name or synonym (product {product.name!r})"))
                        continue
                    if key in seen:
                        found.append(Problem(chain.source, "products", f"segment {segment.id!r} has product term "
                                             f"{term!r} twice (in {seen[key]!r} and {product.name!r})"))
                        continue
                    seen[key] = product.name
                    holders[key].append((segment.id, product.name, product.shared, chain.source))
    for key, uses in holders.items():
        if len({u[0] for u in uses}) > 1 and not all(u[2] for u in uses):
            segments = ", ".join(f"{u[0]!r} ({u[1]})" for u in uses)
            found.append(Problem(uses[-1][3], "products", f"product term {key!r} is in segments {segments}; keep it "
                                 "in one segment or mark the product `shared: true` in every one"))
    return found


def _edge_problems(ontology: Ontology) -> list[Problem]:
    found = []
    known = ontology.segments()
    pairs: Counter[tuple[str, str]] = Counter()
    graph: dict[str, list[str]] = defaultdict(list)
    for chain in ontology.chains:
        for edge in chain.edges:
            name = f"{edge.source} → {edge.target}"
            unknown = [s for s in (edge.source, edge.target) if s not in known]
            if unknown:
                found.append(Problem(chain.source, "edges", f"edge {name} names unknown segment {unknown[0]!r}"))
                continue
            if edge.weight is not None and not 0 < edge.weight <= 1:
                found.append(Problem(chain.source, "edges.weight", f"edge {name} has weight {edge.weight}, outside (0, 1]"))
            pairs[(edge.source, edge.target)] += 1
            if pairs[(edge.source, edge.target)] == 2:
                found.append(Problem(chain.source, "edges", f"edge {name} is listed twice"))
            graph[edge.target].append(edge.source)
    found += _cycle_problems(graph, lambda cycle: Problem(
        ontology.chain_of(cycle[0]).source, "edges", f"upstream edges form a cycle: {' → '.join(cycle)}"))
    return found


def _cycle_problems(predecessors: dict[str, list[str]], problem: Callable[[list[str]], Problem]) -> list[Problem]:
    """One problem for the first cycle graphlib finds, its nodes listed upstream first (a self-loop counts)."""
    try:
        graphlib.TopologicalSorter(predecessors).prepare()
    except graphlib.CycleError as exc:
        return [problem(list(exc.args[1]))]
    return []


def _product_edge_problems(ontology: Ontology) -> list[Problem]:
    path = ontology.product_edges_path()
    if path is None:
        return []
    if not path.is_file():
        return [Problem(ontology.source, "product_edges_file", f"product edges file {str(path)!r} does not exist")]
    try:
        table = ontology.product_edges()
    except InputError as exc:
        return [Problem(str(path), "product_edges_file", exc.reason)]
    found = []
    checks = [("relation", pc.invert(pc.is_in(table["relation"], value_set=pa.array(PRODUCT_RELATIONS))),
               f"has an unknown relation (allowed: {', '.join(PRODUCT_RELATIONS)})")]
    checks += [(column, pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(table[column])), 0), f"has an empty {column}")
               for column in ("source", "target")]
    for column, bad, what in checks:
        rows = pc.indices_nonzero(bad)
        if len(rows):
            first = rows[0].as_py()
            value = table[column][first].as_py()
            found.append(Problem(str(path), column, f"product edge {what}: {value!r} ({len(rows)} such row(s))",
                                 row=first + 2))  # 1-based, after the header line
    return found
