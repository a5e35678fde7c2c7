"""Resolve's per-block Python compute, as block functions for ``Engine.map_batches``.

Each function is module-level and takes a reference to the registry (``Engine.shareable``: a table of
``uscc, name, kind`` keyed by its fingerprint), so a cluster engine ships the reference, not the rows, and
each executor reads the registry itself; the index built from it (a ``Resolver``, a report gazetteer) is
built once per process and registry and kept (``indexed``), so an executor's Python worker builds it once
however many batches or groups it serves — and extract's block functions reuse it (same kinds, same key).
Every decision depends only on the name (or the mention's evidence) and the registry, so how the rows
are cut into batches or groups changes nothing.
"""

from __future__ import annotations

import threading
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import ahocorasick
import pyarrow as pa
import pyarrow.compute as pc

from chainlight.engine.base import TableRef
from chainlight.resolve.matcher import (
    BLOCKS_ONLY,
    PARTS_COLUMNS,
    Context,
    Match,
    Resolver,
    char_pairs,
    index_keys,
    lookups,
    parts_columns,
    place_core,
    read_parts,
    signature,
)
from chainlight.resolve.normalise import normalise
from chainlight.resolve.reports import FORM_HEAD, TextMention, choose_mentions, find_mentions, gazetteer, text_forms

T = TypeVar("T")

#: ``_resolve_fresh``: one decision per distinct name.
DECISION_SCHEMA = pa.schema([("name", pa.string()), ("uscc", pa.string()), ("score", pa.float64()),
                             ("method", pa.string()), ("candidates", pa.string())])
#: ``_resolve_report_mentions``: firm names found in report text, as mentions.
MENTION_SCHEMA = pa.schema([("mention_id", pa.string()), ("source", pa.string()), ("source_id", pa.string()),
                            ("name_as_written", pa.string()), ("given_uscc", pa.string())])
#: ``_resolve_partner_names``: ambiguous buyer names settled by the known partners of a seller that writes them.
PARTNER_SCHEMA = pa.schema([("name", pa.string()), ("seller_uscc", pa.string()), ("uscc", pa.string()),
                            ("score", pa.float64())])

#: ``_resolve_entries``: the registry's distinct rows with their id and their parts (``matcher.PARTS_COLUMNS``),
#: each name normalised once however many groups reach it.
ENTRY_SCHEMA = pa.schema([("entry_id", pa.int64()), ("uscc", pa.string()), ("name", pa.string()), ("kind", pa.string()),
                          ("regions", pa.string()), ("core", pa.string()), ("legal_form", pa.string()),
                          ("branch", pa.bool_())])
#: ``_resolve_keys``: per registry entry, every key it is indexed under (``matcher.index_keys``) as
#: ``table:key``, with the character signature of its place + core. Abbreviations are found through ``pair:``
#: keys (``matcher.char_pairs`` of its place + core) instead of the index's per-character postings.
KEY_SCHEMA = pa.schema([("key", pa.string()), ("entry_id", pa.int64()), ("signature", pa.int64())])
#: ``_resolve_asks``: per name, one ``name`` row (its group, ``bucket``) and every key its decision may read
#: (``matcher.lookups``): ``fetch`` (entries always), ``capped`` (entries when at most ``cap``, those whose
#: signature has every bit of ``signature``; the size too),
#: ``count`` (the size only), ``pair`` (one row per character pair of an abbreviation ``text``, with its
#: signature and how many pairs it has, ``needed``).
ASK_SCHEMA = pa.schema([("name", pa.string()), ("bucket", pa.int64()), ("key", pa.string()), ("role", pa.string()),
                        ("cap", pa.int64()), ("text", pa.string()), ("signature", pa.int64()), ("needed", pa.int64())])

#: ``_resolve_forms``: the registry's text forms (``reports.text_forms``) by their first characters.
FORM_SCHEMA = pa.schema([("form", pa.string()), ("head", pa.string())])
#: ``_resolve_report_windows``: each window of ``FORM_HEAD`` characters of a report's text, by its start.
WINDOW_SCHEMA = pa.schema([("report_id", pa.string()), ("start", pa.int64()), ("window", pa.string())])

_LOCK = threading.Lock()
_INDEXES: dict[str, tuple[str, Any]] = {}  # kind -> (registry fingerprint, index): the latest registry only


def indexed(kind: str, key: str, build: Callable[[], T]) -> T:
    """The index ``kind`` for the registry fingerprinted ``key``: built on first use in this process (under a
    lock: an in-process engine runs two batches at once), then reused."""
    with _LOCK:
        held = _INDEXES.get(kind)
        if held is None or held[0] != key:
            _INDEXES[kind] = held = (key, build())
        index: T = held[1]
        return index


def forget() -> None:
    """Drop this process's indexes (the stage calls it when done: a 1M-firm resolver holds gigabytes the
    later stages of an in-process run need; an executor's worker keeps its own until it exits)."""
    with _LOCK:
        _INDEXES.clear()


def resolver(registry: TableRef) -> Resolver:
    """The matcher over the registry, built once per process and registry."""
    return indexed("resolver", registry.key, lambda: Resolver.from_arrow(registry.read()))


def firm_gazetteer(registry: TableRef) -> ahocorasick.Automaton:
    """Every registry name's text forms (``reports.gazetteer``), built once per process and registry."""
    return indexed("gazetteer", registry.key, lambda: gazetteer(registry.read().column("name").to_pylist()))


def columns_batch(columns: dict[str, list[Any]], schema: pa.Schema) -> pa.RecordBatch:
    """A batch of ``schema`` from its columns as Python lists."""
    return pa.RecordBatch.from_arrays([pa.array(columns[f.name], f.type) for f in schema], schema=schema)


def rows_batch(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    """A batch of ``schema`` from its rows as tuples in the schema's column order."""
    # as a struct array: Arrow reads the tuples in C (transposing millions of tuples in Python took 5x longer)
    return pa.RecordBatch.from_struct_array(pa.array(rows, pa.struct(schema)))


def decisions(names: list[str], matches: list[Match]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([
        pa.array(names, pa.string()), pa.array([m.uscc for m in matches], pa.string()),
        pa.array([m.score for m in matches], pa.float64()), pa.array([m.method for m in matches], pa.string()),
        pa.array([",".join(m.candidates) or None for m in matches], pa.string())], schema=DECISION_SCHEMA)


def resolve_batch(batch: pa.RecordBatch, *, registry: TableRef) -> pa.RecordBatch:
    """Distinct names (column ``name``) → their decisions (``DECISION_SCHEMA``). ``resolve_all`` forks one
    worker per core only for a batch of ``PARALLEL_FROM`` names or more: the whole pending set in-process;
    never a cluster engine's Arrow batch (10,000 rows by default), whose parallelism is its tasks."""
    from chainlight.resolve import resolve_all  # the stage package imports this module

    names = batch.column("name").to_pylist()
    return decisions(names, resolve_all(resolver(registry), names) if names else [])


def report_mentions_batch(batch: pa.RecordBatch, *, registry: TableRef) -> pa.RecordBatch:
    """Reports (``report_id``, ``text``) → the firm names found in their text, one mention each."""
    automaton = firm_gazetteer(registry)
    return _mentions((report_id, find_mentions(text or "", automaton)) for report_id, text in
                     zip(batch.column("report_id").to_pylist(), batch.column("text").to_pylist(), strict=True))


def _mentions(found: Iterable[tuple[str, list[TextMention]]]) -> pa.RecordBatch:
    rows: dict[str, list[str | None]] = {name: [] for name in MENTION_SCHEMA.names}
    for report_id, mentions in found:
        for mention in mentions:
            rows["mention_id"].append(f"report:{report_id}:{mention.start}")
            rows["source"].append("report")
            rows["source_id"].append(report_id)
            rows["name_as_written"].append(mention.name)
            rows["given_uscc"].append(None)
    return columns_batch(rows, MENTION_SCHEMA)


def forms_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Registry names (``name``) → their text forms (``FORM_SCHEMA``), for the scan per key."""
    forms = sorted({form for name in batch.column("name").to_pylist() for form in text_forms(name)})
    return pa.RecordBatch.from_arrays([pa.array(forms, pa.string()), pa.array([f[:FORM_HEAD] for f in forms], pa.string())],
                                      schema=FORM_SCHEMA)


def windows_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Reports (``report_id``, ``text``) → every window of ``FORM_HEAD`` characters (``WINDOW_SCHEMA``)."""
    ids: list[str] = []
    starts: list[int] = []
    windows: list[str] = []
    for report_id, text in zip(batch.column("report_id").to_pylist(), batch.column("text").to_pylist(), strict=True):
        text = text or ""
        for start in range(len(text) - FORM_HEAD + 1):
            ids.append(report_id)
            starts.append(start)
            windows.append(text[start:start + FORM_HEAD])
    return pa.RecordBatch.from_arrays([pa.array(ids, pa.string()), pa.array(starts, pa.int64()),
                                       pa.array(windows, pa.string())], schema=WINDOW_SCHEMA)


def report_mentions_group(group: pa.RecordBatch) -> pa.RecordBatch:
    """One report (``report_id``, ``text``) with where registry forms occur in it (``start``, ``length``; null
    when none does: ``report_forms.sql``) → its mentions, as ``report_mentions_batch`` finds them."""
    if not group.num_rows:
        return _mentions([])
    text = group.column("text")[0].as_py() or ""
    known = [(start, start + length) for start, length in
             zip(group.column("start").to_pylist(), group.column("length").to_pylist(), strict=True) if start is not None]
    return _mentions([(group.column("report_id")[0].as_py(), choose_mentions(text, known))])


def partner_group(group: pa.RecordBatch, *, registry: TableRef) -> pa.RecordBatch:
    """One ambiguous invoice-buyer name (``name``) as one seller (``seller_uscc``) writes it, with that
    seller's known partners (one row each, ``partner``), decided again with them: a row only when that
    evidence settles it."""
    asked = []
    if group.num_rows:
        known = {p for p in group.column("partner").to_pylist() if p is not None}
        asked.append(((group.column("name")[0].as_py(), group.column("seller_uscc")[0].as_py()), known))
    return _settled(resolver(registry), asked)


def _settled(matcher: Resolver, asked: list[tuple[tuple[str, str], set[str]]]) -> pa.RecordBatch:
    """Per (name, seller) with the seller's known partners, the decision with them as context: a row only
    when that evidence settles it (the winner is one of the partners)."""
    out: dict[str, list[Any]] = {"name": [], "seller_uscc": [], "uscc": [], "score": []}
    for (name, seller), known in asked:
        match = matcher.resolve(name, Context(partners=frozenset(known)))
        if match.uscc is not None and match.uscc in known:
            out["name"].append(name)
            out["seller_uscc"].append(seller)
            out["uscc"].append(match.uscc)
            out["score"].append(match.score)
    return columns_batch(out, PARTNER_SCHEMA)


# -- resolution per blocking key: each group of names with the registry entries its lookups reach ----------

def registry_entries_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Registry rows (``entry_id``, ``uscc``, ``name``, ``kind``) → the same with their parts (``ENTRY_SCHEMA``)."""
    columns = {name: batch.column(name).to_pylist() for name in ("entry_id", "uscc", "name", "kind")}
    return columns_batch({**columns, **parts_columns(columns["name"])}, ENTRY_SCHEMA)


def registry_keys_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Registry entries (``ENTRY_SCHEMA``) → their index keys (``KEY_SCHEMA``)."""
    rows: list[tuple[str, int, int]] = []
    for entry_id, name, kind, parts in zip(*(batch.column(c).to_pylist() for c in ("entry_id", "name", "kind")),
                                           read_parts(batch), strict=True):
        if len(parts.core) < 2:
            continue
        full = place_core(parts)
        bits = signature(full)
        rows.extend((f"{table}:{key}", entry_id, bits) for table, key in index_keys(name, kind, parts) if table != "char")
        rows.extend((f"pair:{pair}", entry_id, bits) for pair in char_pairs(full))
    return rows_batch(rows, KEY_SCHEMA)


def name_bucket(name: str, buckets: int) -> int:
    """A name's group: names with the same core head share most of their candidates, so they go together
    (CRC-32: the same in every process, unlike ``hash``)."""
    return zlib.crc32(normalise(name).core[:2].encode()) % buckets


def name_keys_batch(batch: pa.RecordBatch, *, buckets: int) -> pa.RecordBatch:
    """Distinct names (``name``) → their group and every key their decision may read (``ASK_SCHEMA``)."""
    rows: list[tuple[Any, ...]] = []  # ~20 a name, in ASK_SCHEMA order (``rows_batch``)
    for name in batch.column("name").to_pylist():
        bucket = name_bucket(name, buckets)
        rows.append((name, bucket, None, "name", None, None, None, None))
        for lookup in lookups(name):
            if lookup.table == "abbreviation":
                pairs = sorted(char_pairs(lookup.key))
                bits = signature(lookup.key)
                rows.extend((name, bucket, f"pair:{pair}", "pair", None, lookup.key, bits, len(pairs)) for pair in pairs)
            else:
                role = "fetch" if lookup.cap is None else "count" if lookup.cap == 0 else "capped"
                rows.append((name, bucket, f"{lookup.table}:{lookup.key}", role, lookup.cap, None, lookup.holds, None))
    return rows_batch(rows, ASK_SCHEMA)


def _group_resolver(group: pa.RecordBatch) -> tuple[Resolver, pa.RecordBatch]:
    """A group's partial resolver (its ``entry`` and ``size`` rows) and its ``name`` rows."""
    kinds = group.column("row_kind")
    entries = group.filter(pc.equal(kinds, "entry"))
    registry = pa.table({"uscc": entries.column("a"), "name": entries.column("b"), "kind": entries.column("c"),
                         **{column: entries.column(column) for column in (*PARTS_COLUMNS, BLOCKS_ONLY)}})
    sizes = group.filter(pc.equal(kinds, "size"))
    known = dict(zip(sizes.column("a").to_pylist(), sizes.column("n").to_pylist(), strict=True))
    return Resolver.partial(registry, known), group.filter(pc.equal(kinds, "name"))


def resolve_group(group: pa.RecordBatch) -> pa.RecordBatch:
    """One group of names (``blocked_groups.sql``) → their decisions, equal to the whole registry's."""
    from chainlight.resolve import resolve_all  # the stage package imports this module

    resolver, asked = _group_resolver(group)
    names = sorted(set(asked.column("a").to_pylist()))
    return decisions(names, resolve_all(resolver, names) if names else [])


def partner_blocked_group(group: pa.RecordBatch) -> pa.RecordBatch:
    """``partner_group`` for every (name, seller) of one group of names (``blocked_groups.sql``, the name
    rows carrying the seller and one known partner each)."""
    resolver, asked = _group_resolver(group)
    partners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, seller, partner in zip(*(asked.column(c).to_pylist() for c in ("a", "b", "c")), strict=True):
        known = partners[(name, seller)]
        if partner is not None:
            known.add(partner)
    return _settled(resolver, sorted(partners.items()))
