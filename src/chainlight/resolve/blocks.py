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
from collections.abc import Callable
from typing import Any, TypeVar

import ahocorasick
import pyarrow as pa

from chainlight.engine.base import TableRef
from chainlight.resolve.matcher import Context, Match, Resolver
from chainlight.resolve.reports import find_mentions, gazetteer

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
    rows: dict[str, list[str | None]] = {name: [] for name in MENTION_SCHEMA.names}
    for report_id, text in zip(batch.column("report_id").to_pylist(), batch.column("text").to_pylist(), strict=True):
        for mention in find_mentions(text or "", automaton):
            rows["mention_id"].append(f"report:{report_id}:{mention.start}")
            rows["source"].append("report")
            rows["source_id"].append(report_id)
            rows["name_as_written"].append(mention.name)
            rows["given_uscc"].append(None)
    return pa.RecordBatch.from_arrays([pa.array(rows[n], pa.string()) for n in MENTION_SCHEMA.names],
                                      schema=MENTION_SCHEMA)


def partner_group(group: pa.RecordBatch, *, registry: TableRef) -> pa.RecordBatch:
    """One ambiguous invoice-buyer name (``name``) as one seller (``seller_uscc``) writes it, with that
    seller's known partners (one row each, ``partner``), decided again with them: a row only when that
    evidence settles it."""
    out: dict[str, list[Any]] = {"name": [], "seller_uscc": [], "uscc": [], "score": []}
    if group.num_rows:
        known = frozenset(p for p in group.column("partner").to_pylist() if p is not None)
        name = group.column("name")[0].as_py()
        match = resolver(registry).resolve(name, Context(partners=known))
        if match.uscc is not None and match.uscc in known:
            out["name"].append(name)
            out["seller_uscc"].append(group.column("seller_uscc")[0].as_py())
            out["uscc"].append(match.uscc)
            out["score"].append(match.score)
    return pa.RecordBatch.from_arrays([pa.array(out[f.name], f.type) for f in PARTNER_SCHEMA], schema=PARTNER_SCHEMA)
