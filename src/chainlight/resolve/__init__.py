"""Stage ``resolve``: every name mention tied to a registry enterprise, or left unresolved.

Reads ``enterprises``, ``aliases``, ``invoices`` (buyer names and USCCs), ``patents`` (holders),
``products`` (listing sellers) and ``reports`` (firm names in the text). Writes ``entity_links`` —
one row per mention: ``invoice:<id>``, ``patent:<id>``, ``product:<uscc>:<product>``,
``report:<id>:<char offset>`` — and ``resolved_names``, the per-name decisions it reuses.

A written USCC that is valid and in the registry wins. Otherwise each distinct name is matched by
``matcher.Resolver`` (normalisation, exact and alias lookups, blocking, a structure stage —
brand, trade words, place, legal form — then a fuzzy fallback; near ties are ``ambiguous`` with their
candidates and never linked). Resolution is incremental: names decided by an earlier run against the
same registry *and the same matcher* (its code and every module constant of ``matcher``, ``constants``
and ``normalise``, see ``matcher_version``) are not resolved again; since each name's decision depends
only on those, the result equals resolving all at once, and a changed matcher never reuses a stale decision.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import multiprocessing
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pyarrow as pa

from chainlight import rules, tables
from chainlight.config import Config
from chainlight.engine.base import load_sql, render
from chainlight.resolve.matcher import Context, Match, Resolver
from chainlight.resolve.normalise import clean
from chainlight.resolve.reports import TextMention, find_mentions, gazetteer
from chainlight.workspace import StageResult, Workspace

__all__ = ["Context", "Match", "Resolver", "TextMention", "find_mentions", "resolve_names", "run"]

log = logging.getLogger(__name__)

tables.register(tables.TableSpec("entity_links", "resolve", (
    tables.Column("mention_id", "VARCHAR"), tables.Column("source", "VARCHAR"), tables.Column("source_id", "VARCHAR"),
    tables.Column("name_as_written", "VARCHAR"), tables.Column("uscc", "VARCHAR"), tables.Column("score", "DOUBLE"),
    tables.Column("method", "VARCHAR"), tables.Column("candidates", "VARCHAR")), key=("mention_id",),
    description="Every name mention → a registry enterprise (uscc null when unresolved or ambiguous; "
                "for ambiguous, candidates lists the firms it fits equally, comma-separated)."))
tables.register(tables.TableSpec("resolved_names", "resolve", (
    tables.Column("name", "VARCHAR"), tables.Column("uscc", "VARCHAR"), tables.Column("score", "DOUBLE"),
    tables.Column("method", "VARCHAR"), tables.Column("candidates", "VARCHAR"),
    tables.Column("registry_fingerprint", "VARCHAR")), key=("name",),
    description="Per distinct name: the decision, and the registry it was made against."))

REGISTRY_SQL = """
    SELECT uscc, name, 'registered' AS kind FROM enterprises WHERE name IS NOT NULL
    UNION ALL SELECT uscc, alias, kind FROM aliases WHERE alias IS NOT NULL"""


def registry_names(ws: Workspace) -> list[tuple[str, str, str]]:
    return [tuple(r.values()) for r in ws.engine.query(REGISTRY_SQL).to_pylist()]  # type: ignore[misc]


def resolve_names(ws: Workspace, names: list[str]) -> list[Match]:
    """Match names against the workspace's registry (for other stages, e.g. the extractor)."""
    return resolve_all(Resolver(registry_names(ws)), names)


_WORKER_RESOLVER: Resolver | None = None
PARALLEL_FROM = 50_000


def _resolve_chunk(names: list[str]) -> list[Match]:
    assert _WORKER_RESOLVER is not None
    return [_WORKER_RESOLVER.resolve(n) for n in names]


def resolve_all(resolver: Resolver, names: list[str]) -> list[Match]:
    """Each name independently, in input order. A decision depends on the name only through its
    cleaned form (``clean``: width, script, spacing, punctuation — ``clean`` is idempotent), so each
    distinct cleaned form is resolved once. Large batches use one process per core, sharing the
    index by fork (each decision depends only on the registry, so the split changes nothing)."""
    keys = [clean(n or "") for n in names]
    distinct = sorted(set(keys))
    workers = min(os.cpu_count() or 1, 8)
    if len(distinct) < PARALLEL_FROM or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        decided = [resolver.resolve(n) for n in distinct]
    else:
        global _WORKER_RESOLVER
        _WORKER_RESOLVER = resolver
        try:
            # many small chunks: the last one to finish keeps one core busy alone for less time; contiguous
            # (sorted) names keep a worker's pinyin cache on the neighbourhood it is resolving
            size = -(-len(distinct) // (workers * 32))
            chunks = [distinct[i:i + size] for i in range(0, len(distinct), size)]
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                decided = [m for part in pool.map(_resolve_chunk, chunks) for m in part]
        finally:
            _WORKER_RESOLVER = None
    by_key = dict(zip(distinct, decided, strict=True))
    return [by_key[k] for k in keys]


def _canonical(value: Any) -> str:
    """A repr that is the same in every process (set order follows the per-process string hash)."""
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_canonical(k)}: {_canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_canonical(v) for v in value) + "]"
    return repr(value)


def matcher_version(*modules: ModuleType) -> str:
    """Hash of the matcher's code and parameters (every upper-case module constant, as it is now)."""
    from chainlight.resolve import constants, matcher, normalise

    digest = hashlib.sha256()
    for module in modules or (matcher, constants, normalise):
        digest.update(inspect.getsource(module).encode())
        for name, value in sorted(vars(module).items()):
            if name.isupper():
                digest.update(f"{module.__name__}.{name}={_canonical(value)}\n".encode())
    return digest.hexdigest()[:16]


def _fingerprint(ws: Workspace) -> str:
    """What a cached decision depends on: the registry and the matcher."""
    row = ws.engine.query(f"SELECT count(*) AS n, sum(hash(uscc, name, kind)) AS h FROM ({REGISTRY_SQL})").to_pylist()[0]
    return f"{row['n']}:{row['h']}:{matcher_version()}"


def _report_mentions(ws: Workspace, registry: list[tuple[str, str, str]]) -> pa.Table:
    reports = ws.engine.query("SELECT report_id, text FROM reports ORDER BY report_id").to_pylist()
    rows: dict[str, list[str | None]] = {k: [] for k in ("mention_id", "source", "source_id", "name_as_written",
                                                         "given_uscc")}
    if reports:
        automaton = gazetteer(name for _, name, _ in registry)
        for report in reports:
            for mention in find_mentions(report["text"] or "", automaton):
                rows["mention_id"].append(f"report:{report['report_id']}:{mention.start}")
                rows["source"].append("report")
                rows["source_id"].append(report["report_id"])
                rows["name_as_written"].append(mention.name)
                rows["given_uscc"].append(None)
    return pa.table({k: pa.array(v, pa.string()) for k, v in rows.items()})


def _partner_links(ws: Workspace, resolver_of: Callable[[], Resolver]) -> pa.Table:
    """Invoice buyers whose name alone is ambiguous, decided again with the seller's known partners
    (the registered buyers it names by USCC elsewhere): a link only when that evidence settles it.
    Per mention, not per name, so never cached; it runs on the ambiguous few."""
    pairs = ws.engine.query(render(load_sql("chainlight.resolve", "partners"),
                                   {"written_links": rules.fallback_links_view(ws)})).to_pylist()
    partners: dict[tuple[str, str], set[str]] = {}
    for row in pairs:
        partners.setdefault((row["mention_id"], row["name"]), set()).add(row["partner"])
    resolver = resolver_of() if partners else None
    out: dict[str, list[object]] = {"mention_id": [], "uscc": [], "score": []}
    for (mention_id, name), known in sorted(partners.items()):
        assert resolver is not None
        match = resolver.resolve(name, Context(partners=frozenset(known)))
        if match.uscc is not None and match.uscc in known:
            out["mention_id"].append(mention_id)
            out["uscc"].append(match.uscc)
            out["score"].append(match.score)
    return pa.table({"mention_id": pa.array(out["mention_id"], pa.string()), "uscc": pa.array(out["uscc"], pa.string()),
                     "score": pa.array(out["score"], pa.float64())})


def run(ws: Workspace, cfg: Config) -> StageResult:
    engine = ws.engine
    fingerprint = _fingerprint(ws)
    registry = registry_names(ws)
    engine.register_arrow("_resolve_report_mentions", _report_mentions(ws, registry))
    engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_mentions AS " + load_sql("chainlight.resolve", "mentions")
                   + " UNION ALL SELECT * FROM _resolve_report_mentions")
    previous = pa.table({"name": pa.array([], pa.string())})
    if engine.table_exists("resolved_names") and "candidates" in {c for c, _ in engine.columns("resolved_names")}:
        previous = engine.query("SELECT name, uscc, score, method, candidates, registry_fingerprint FROM resolved_names "
                                "WHERE registry_fingerprint = $f", {"f": fingerprint})
    engine.register_arrow("_resolve_previous", previous.select(["name"]))
    pending = engine.query(
        "SELECT DISTINCT m.name_as_written AS name FROM _resolve_mentions m "
        "WHERE m.name_as_written IS NOT NULL AND (m.given_uscc IS NULL OR m.given_uscc NOT IN (SELECT uscc FROM enterprises)) "
        "AND m.name_as_written NOT IN (SELECT name FROM _resolve_previous) ORDER BY 1").column(0).to_pylist()
    resolver_of = functools.cache(lambda: Resolver(registry))  # built once, and only when needed
    matches = resolve_all(resolver_of(), pending) if pending else []
    fresh = pa.table({"name": pa.array(pending, pa.string()),
                      "uscc": pa.array([m.uscc for m in matches], pa.string()),
                      "score": pa.array([m.score for m in matches], pa.float64()),
                      "method": pa.array([m.method for m in matches], pa.string()),
                      "candidates": pa.array([",".join(m.candidates) or None for m in matches], pa.string()),
                      "registry_fingerprint": pa.array([fingerprint] * len(pending), pa.string())})
    decided = pa.concat_tables([previous, fresh]) if previous.num_rows else fresh
    engine.register_arrow("_resolve_names", decided)
    engine.register_arrow("_resolve_context", _partner_links(ws, resolver_of))
    with ws.stage("resolve") as writer:
        writer.write_arrow("resolved_names", decided)
        writer.write_sql("entity_links", load_sql("chainlight.resolve", "links").replace(
            "{{ mentions }}", "_resolve_mentions").replace("{{ names }}", "_resolve_names").replace(
            "{{ context }}", "_resolve_context"))
        writer.stats.update({"names_resolved_now": len(pending), "names_reused": previous.num_rows,
                             "registry_fingerprint": fingerprint})
    return StageResult("resolve", writer.run_id, dict(writer.counts), dict(writer.stats))
