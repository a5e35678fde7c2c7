"""Ontology checks that make a bad chain definition one clear error, naming the offending id."""

from __future__ import annotations

from collections import defaultdict

from chainlight.errors import InputError
from chainlight.ontology.model import Ontology


def problems(ontology: Ontology) -> list[str]:
    """Every problem found, in a stable order (empty when the ontology is valid)."""
    found: list[str] = []
    seen: dict[str, str] = {}
    for chain in ontology.chains:
        if not chain.name.strip():
            found.append(f"chain {chain.id}: empty name")
        if not chain.segments:
            found.append(f"chain {chain.id}: has no segments")
        for segment in chain.segments:
            if segment.id in seen:
                found.append(f"segment {segment.id}: duplicate id (chains {seen[segment.id]} and {chain.id})")
            seen[segment.id] = chain.id
            if not segment.name.strip():
                found.append(f"segment {segment.id}: empty name")
            if segment.tier not in chain.tiers:
                found.append(f"segment {segment.id}: tier {segment.tier!r} is not one of chain {chain.id}'s tiers")
    found += _term_problems(ontology)
    for edge in ontology.edges():
        for end in (edge.source, edge.target):
            if end not in seen:
                found.append(f"edge {edge.source} -> {edge.target}: unknown segment {end}")
        if edge.weight is not None and not 0 < edge.weight <= 1:
            found.append(f"edge {edge.source} -> {edge.target}: weight {edge.weight} outside (0, 1]")
        if edge.source == edge.target:
            found.append(f"edge {edge.source} -> {edge.target}: a segment cannot be upstream of itself")
    cycle = find_cycle({(e.source, e.target) for e in ontology.edges() if e.source != e.target})
    if cycle:
        found.append("upstream edges form a cycle: " + " -> ".join(cycle))
    return found


def _term_problems(ontology: Ontology) -> list[str]:
    owners: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    found = []
    for segment in ontology.segments().values():
        terms = [(t, p.shared) for p in segment.products for t in (p.name, *p.synonyms)]
        names = [t for t, _ in terms]
        for term in sorted({t for t in names if names.count(t) > 1}):
            found.append(f"segment {segment.id}: product term {term!r} appears twice")
        for term, shared in dict(terms).items():
            if not term.strip():
                found.append(f"segment {segment.id}: empty product term")
            owners[term].append((segment.id, shared))
    for term, where in sorted(owners.items()):
        if len(where) > 1 and not all(shared for _, shared in where):
            found.append(f"product term {term!r} is in segments {', '.join(s for s, _ in where)} "
                         "(mark it shared: true in each if that is intended)")
    return found


def find_cycle(edges: set[tuple[str, str]]) -> list[str]:
    """One directed cycle as a path (first node repeated at the end), or [] if the graph is a DAG."""
    graph: dict[str, list[str]] = defaultdict(list)
    for source, target in sorted(edges):
        graph[source].append(target)
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def validate(ontology: Ontology, source: str = "ontology") -> None:
    found = problems(ontology)
    if found:
        more = f" (and {len(found) - 1} more problem(s))" if len(found) > 1 else ""
        raise InputError(found[0] + more, file=source)
