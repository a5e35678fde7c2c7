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
import re
from types import ModuleType
from typing import Any

import pyarrow as pa

from chainlight import rules, tables
from chainlight.config import Config
from chainlight.engine.base import BatchFunction, TableRef, load_sql, one_batch, render, stable_hash
from chainlight.resolve import blocks
from chainlight.resolve.matcher import Context, Match, Resolver
from chainlight.resolve.normalise import clean
from chainlight.resolve.reports import TextMention, find_mentions
from chainlight.workspace import StageResult, Workspace

__all__ = ["Context", "Match", "Resolver", "TextMention", "find_mentions", "resolve_names", "run", "shared_registry"]

log = logging.getLogger(__name__)

#: Runs on every engine: the per-name Python runs as block functions (``blocks``), nothing else leaves SQL.
ENGINE_NEEDS: frozenset[str] = frozenset()

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


def registry_table(ws: Workspace) -> pa.Table:
    """The registry's rows (``uscc``, ``name``, ``kind``) in this process, for the service (the batch stages use
    ``shared_registry`` or resolve per blocking key: neither brings it to a cluster engine's driver)."""
    return ws.engine.query(REGISTRY_SQL)


def shared_registry(ws: Workspace, fingerprint: str | None = None) -> TableRef:
    """The registry where block functions read it themselves (``Engine.shareable``), keyed by its
    fingerprint so a worker builds each index (``blocks``) once per registry, whichever stage asks."""
    return ws.engine.shareable("registry", REGISTRY_SQL, key=fingerprint or _fingerprint(ws))


def resolve_names(ws: Workspace, names: list[str]) -> list[Match]:
    """Match names against the workspace's registry (for other stages, e.g. the extractor)."""
    return resolve_all(Resolver.from_arrow(registry_table(ws)), names)


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


_DEFAULT_REPR = re.compile(r"<.* at 0x[0-9a-fA-F]+>")


def _canonical(value: Any) -> str:
    """A repr that is the same in every process (set order follows the per-process string hash)."""
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_canonical(k)}: {_canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_canonical(v) for v in value) + "]"
    text = repr(value)
    # an object without a repr of its own (``<… object at 0x…>``, e.g. the OpenCC converter) is named by its
    # type: its address differs in every process, and a version that differs per process reuses nothing
    return f"<{type(value).__module__}.{type(value).__qualname__}>" if _DEFAULT_REPR.fullmatch(text) else text


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


#: A registry row's 60-bit MD5, spelt the same on every engine.
ROW_HASH = stable_hash("concat_ws('|', coalesce(uscc, ''), name, kind)", 15)


def _fingerprint(ws: Workspace) -> str:
    """What a cached decision depends on: the registry and the matcher. The registry's part is its row
    count and the sum of a 60-bit MD5 per row, spelt the same on every engine."""
    row = ws.engine.query(f"SELECT count(*) AS n, CAST(sum(CAST({ROW_HASH} AS DECIMAL(38, 0))) AS VARCHAR) AS h "
                          f"FROM ({REGISTRY_SQL}) AS registry").to_pylist()[0]
    return f"{row['n']}:{row['h'] or 0}:{matcher_version()}"


#: The distinct names of mentions without a registered USCC that no earlier decision against this registry
#: and matcher covers. Anti-joins, not ``NOT IN``: Spark cannot hash a ``NOT IN`` under an ``OR`` and
#: compares every mention with every firm instead (registry USCCs and decided names are never NULL).
PENDING_SQL = ("SELECT DISTINCT m.name_as_written AS name FROM _resolve_mentions m "
               "LEFT JOIN (SELECT DISTINCT uscc FROM enterprises) e ON e.uscc = m.given_uscc "
               "LEFT JOIN _resolve_previous p ON p.name = m.name_as_written "
               "WHERE m.name_as_written IS NOT NULL AND e.uscc IS NULL AND p.name IS NULL")
NO_PREVIOUS_SQL = ("SELECT CAST(NULL AS VARCHAR) AS name, CAST(NULL AS VARCHAR) AS uscc, CAST(NULL AS DOUBLE) AS score, "
                   "CAST(NULL AS VARCHAR) AS method, CAST(NULL AS VARCHAR) AS candidates, "
                   "CAST(NULL AS VARCHAR) AS registry_fingerprint WHERE 1 = 0")


def run(ws: Workspace, cfg: Config) -> StageResult:
    """Every step runs where the data lives: SQL on the engine, the per-name and per-report Python as
    ``map_batches`` block functions. With the whole registry (``resolve.registry``), each worker reads it
    (``shared_registry``) and indexes it once; per blocking key, SQL joins each group of names with the
    registry entries their lookups reach and a group function resolves them against those alone. On a
    cluster engine no table's rows come to this process; only counts and the fingerprint."""
    choice = cfg.resolve.registry
    try:
        by_blocks = choice == "blocks" or (choice == "auto" and not ws.engine.in_process)
        return _run(ws, cfg.resolve.names_per_group if by_blocks else None)
    finally:
        blocks.forget()


class _WholeRegistry:
    """The registry-wide steps with the whole registry indexed in each worker (``shared_registry``)."""

    def __init__(self, ws: Workspace, registry: TableRef) -> None:
        self.engine, self.registry = ws.engine, registry

    def report_mentions(self) -> None:
        """``_resolve_report_mentions``: firm names found in report text with the registry's gazetteer."""
        self.engine.map_batches("_resolve_report_mentions", "SELECT report_id, text FROM reports",
                                functools.partial(blocks.report_mentions_batch, registry=self.registry),
                                blocks.MENTION_SCHEMA)

    def fresh_decisions(self) -> None:
        """``_resolve_fresh``: the decisions of ``_resolve_pending``'s names."""
        resolve_fn = functools.partial(blocks.resolve_batch, registry=self.registry)
        if self.engine.in_process:
            # The same block function over the whole pending set in one call: ``resolve_all`` then forks one
            # worker per core, which beats in-process batches on threads (the matcher is Python, held by the GIL).
            pending = one_batch(self.engine.query("SELECT name FROM _resolve_pending ORDER BY 1"))
            self.engine.register_arrow("_resolve_fresh", pa.Table.from_batches([resolve_fn(pending)],
                                                                               schema=blocks.DECISION_SCHEMA))
        else:
            self.engine.map_batches("_resolve_fresh", "SELECT name FROM _resolve_pending", resolve_fn,
                                    blocks.DECISION_SCHEMA)

    def partner_decisions(self, questions_sql: str) -> None:
        """``_resolve_partner_names``: ambiguous names settled by their seller's known partners."""
        self.engine.map_batches("_resolve_partner_names", questions_sql,
                                functools.partial(blocks.partner_group, registry=self.registry),
                                blocks.PARTNER_SCHEMA, group_by=["name", "seller_uscc"])


class _ByBlockingKey:
    """The same steps with no worker holding the whole registry: SQL joins each group of names (or each
    report) with the registry entries (text forms) their keys reach, and a group function decides them as
    the whole registry would."""

    def __init__(self, ws: Workspace, names_per_group: int) -> None:
        """``names_per_group``: a group's entries are its names' candidates, each name's capped (a few hundred at
        most), so a group's partial index is bounded whatever the registry's size; larger groups share more
        candidates (100k firms: 2,000 names a group built 3.26M entries in all, 20,000 built 1.04M, at most 137k
        a group; the stage took 65 s and 44 s in-process, against 29 s with the whole registry)."""
        self.engine = ws.engine
        self.names_per_group = names_per_group
        # the registry's distinct rows, every key each is indexed under, and each key's size in the whole registry
        self.engine.map_batches("_resolve_entries", f"SELECT {ROW_HASH} AS entry_id, uscc, name, kind FROM "
                                f"(SELECT DISTINCT uscc, name, kind FROM ({REGISTRY_SQL}) AS registry) AS r",
                                blocks.registry_entries_batch, blocks.ENTRY_SCHEMA)
        self.engine.map_batches("_resolve_keys", "SELECT * FROM _resolve_entries", blocks.registry_keys_batch,
                                blocks.KEY_SCHEMA)
        self.engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_key_sizes AS "
                            "SELECT key, count(*) AS n FROM _resolve_keys GROUP BY key")

    def report_mentions(self) -> None:
        """The registry's text forms joined with the reports' windows by their first characters
        (``report_forms.sql``), then per report the same choice among overlapping names as ``find_mentions``."""
        engine = self.engine
        engine.map_batches("_resolve_form_rows", "SELECT DISTINCT name FROM _resolve_entries", blocks.forms_batch,
                           blocks.FORM_SCHEMA)
        engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_forms AS SELECT DISTINCT form, head FROM _resolve_form_rows")
        engine.map_batches("_resolve_report_windows", "SELECT report_id, text FROM reports", blocks.windows_batch,
                           blocks.WINDOW_SCHEMA)
        engine.map_batches("_resolve_report_mentions", load_sql("chainlight.resolve", "report_forms"),
                           blocks.report_mentions_group, blocks.MENTION_SCHEMA, group_by=["report_id"])

    def fresh_decisions(self) -> None:
        self._decide("_resolve_fresh", "_resolve_pending", blocks.resolve_group, blocks.DECISION_SCHEMA)

    def partner_decisions(self, questions_sql: str) -> None:
        self.engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_partner_questions AS " + questions_sql)
        self._decide("_resolve_partner_names", "_resolve_partner_questions", blocks.partner_blocked_group,
                     blocks.PARTNER_SCHEMA)

    def _decide(self, out: str, questions: str, fn: BatchFunction, schema: pa.Schema) -> None:
        """Table ``out`` (``schema``): ``fn`` over each group of the names of table ``questions`` (``name``,
        ``seller_uscc``, ``partner``) with the registry entries their lookups reach (``blocked_groups.sql``).
        Entries reached through another key, or for another name of the group, change no decision (an entry
        id that two rows share only adds one), so the groups' decisions equal the whole registry's."""
        names = f"SELECT DISTINCT name FROM {questions}"
        buckets = max(1, -(-int(self.engine.scalar(f"SELECT count(*) FROM ({names}) AS n")) // self.names_per_group))
        self.engine.map_batches("_resolve_asks", names, functools.partial(blocks.name_keys_batch, buckets=buckets),
                                blocks.ASK_SCHEMA)
        self.engine.map_batches(out, render(load_sql("chainlight.resolve", "blocked_groups"), {"questions": questions}),
                                fn, schema, group_by=["bucket"])


def _run(ws: Workspace, names_per_group: int | None) -> StageResult:
    """``names_per_group``: resolve per blocking key, in groups of that many names; None: with the whole registry."""
    engine = ws.engine
    fingerprint = _fingerprint(ws)
    steps = (_ByBlockingKey(ws, names_per_group) if names_per_group
             else _WholeRegistry(ws, shared_registry(ws, fingerprint)))
    steps.report_mentions()
    engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_mentions AS " + load_sql("chainlight.resolve", "mentions")
                   + " UNION ALL SELECT * FROM _resolve_report_mentions")
    has_previous = (engine.table_exists("resolved_names")
                    and "candidates" in {c for c, _ in engine.columns("resolved_names")})
    engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_previous AS " + (
        "SELECT name, uscc, score, method, candidates, registry_fingerprint FROM resolved_names "
        "WHERE registry_fingerprint = $f" if has_previous else NO_PREVIOUS_SQL), {"f": fingerprint} if has_previous else None)
    engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_pending AS SELECT name, CAST(NULL AS VARCHAR) AS seller_uscc, "
                   "CAST(NULL AS VARCHAR) AS partner FROM (" + PENDING_SQL + ") AS pending")
    steps.fresh_decisions()
    engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_names AS SELECT * FROM _resolve_previous UNION ALL "
                   "SELECT name, uscc, score, method, candidates, CAST($f AS VARCHAR) AS registry_fingerprint "
                   "FROM _resolve_fresh", {"f": fingerprint})
    steps.partner_decisions(render(load_sql("chainlight.resolve", "partners"),
                                   {"written_links": rules.fallback_links_view(ws)}))
    engine.execute("CREATE OR REPLACE TEMP TABLE _resolve_context AS " + load_sql("chainlight.resolve", "partner_links"))
    with ws.stage("resolve") as writer:
        writer.write_sql("resolved_names", "SELECT * FROM _resolve_names")
        writer.write_sql("entity_links", load_sql("chainlight.resolve", "links").replace(
            "{{ mentions }}", "_resolve_mentions").replace("{{ names }}", "_resolve_names").replace(
            "{{ context }}", "_resolve_context"))
        writer.stats.update({"names_resolved_now": engine.scalar("SELECT count(*) FROM _resolve_fresh"),
                             "names_reused": engine.scalar("SELECT count(*) FROM _resolve_previous"),
                             "registry_fingerprint": fingerprint})
    return StageResult("resolve", writer.run_id, dict(writer.counts), dict(writer.stats))
