"""Name search through the entity resolver, so what works on invoices works in the search box.

A query is first resolved as the pipeline resolves an invoice buyer's name (exact, alias, short name,
typo, homophone: ``Resolver.resolve``); then the resolver's ranked candidates follow
(``Resolver.candidates``, the same blocking and weights, without the precision-first cut-off); then
plain substring hits on registered names and aliases. A USCC typed in finds that firm.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from chainlight import uscc as uscc_codes
from chainlight.resolve.matcher import Resolver
from chainlight.resolve.normalise import clean


@dataclass(frozen=True)
class Hit:
    uscc: str
    score: float
    method: str  # uscc | exact | alias | model | candidate | contains


def build_resolver(registry: pa.Table | None) -> Resolver:
    """The name search's matcher over the registry table (``resolve.registry_table``; None: no registry)."""
    return Resolver([]) if registry is None else Resolver.from_arrow(registry)


def search(resolver: Resolver, query: str, contains: list[str], limit: int) -> list[Hit]:
    """Ranked hits, best first, each firm once; ``contains`` = substring hits found by the caller."""
    hits: dict[str, Hit] = {}

    def add(hit: Hit) -> None:
        if hit.uscc not in hits and len(hits) < limit:
            hits[hit.uscc] = hit

    code = clean(query)
    if len(code) == 18 and uscc_codes.is_valid(code):
        add(Hit(code, 1.0, "uscc"))
    match = resolver.resolve(query)
    if match.uscc is not None:
        add(Hit(match.uscc, match.score, match.method))
    for uscc, score in resolver.candidates(query, limit):
        add(Hit(uscc, score, "candidate"))
    for uscc in contains:
        add(Hit(uscc, 0.0, "contains"))
    return list(hits.values())
