"""An in-memory copy of the workspace tables the service reads, swapped whole on reload.

DuckDB lets one process write a database file, or many read it, never both. A batch run
(``chainlight run``) must be able to swap its tables in while the service answers requests, so the
service never keeps the workspace file open: at start (and on reload, e.g. SIGHUP) it attaches the
file read-only for the moment it takes to copy what it needs into an in-memory database, then
detaches. If a batch run holds the file, loading waits (``serve.snapshot_retry_s``) and a reload that
cannot get in keeps the current snapshot. Requests read whichever snapshot was current when they
began; each request thread has its own cursor (DuckDB cursors are not shared between threads).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from chainlight.engine import DuckDBEngine, warehouse
from chainlight.engine.base import load_sql, sql_literal
from chainlight.errors import InputError, Unavailable
from chainlight.rules import SALES_VIEW
from chainlight.workspace import DB_FILE

log = logging.getLogger(__name__)
T = TypeVar("T")

_HEADER = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)


class WorkspaceBusy(Unavailable):
    """A batch run holds the workspace file; the current snapshot stays in use."""


@cache
def named_queries(file: str) -> dict[str, str]:
    """``-- name: x`` sections of ``serve/sql/<file>.sql``."""
    text = (resources.files("chainlight.serve") / "sql" / f"{file}.sql").read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def wait_for_workspace(open_it: Callable[[], T], wait_s: float) -> T:
    """``open_it()`` once the workspace file is free: a batch run holds it only while it writes."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return open_it()
        except duckdb.IOException as exc:
            if time.monotonic() >= deadline:
                raise WorkspaceBusy(f"workspace is locked by a batch run ({exc}); try again when it ends") from exc
            time.sleep(0.2)


def _clean(value: Any) -> Any:
    """JSON-safe values: NaN/inf (e.g. a trend over one month) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _CursorEngine(DuckDBEngine):
    """The engine interface over one thread's cursor of the snapshot, so library functions written
    against a workspace (e.g. ``graph.subgraph``) run unchanged on the snapshot."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:  # no new database: reuse the cursor
        self.con = con


class SnapshotView:
    """What library functions expect of a workspace (``engine``, ``table_exists``), read-only."""

    def __init__(self, snapshot: Snapshot, con: duckdb.DuckDBPyConnection) -> None:
        self.snapshot, self.engine = snapshot, _CursorEngine(con)

    def table_exists(self, name: str) -> bool:
        return name in self.snapshot.tables


class Snapshot:
    def __init__(self, root: Path, db: duckdb.DuckDBPyConnection, tables: dict[str, int], seconds: float) -> None:
        self.root, self.db, self.tables = root, db, tables
        self.loaded_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.load_seconds = seconds
        self._local = threading.local()
        self.anchors: frozenset[str] = frozenset(
            r[0] for r in db.execute("SELECT uscc FROM graph_features WHERE is_anchor").fetchall()) \
            if "graph_features" in tables else frozenset()

    @classmethod
    def load(cls, root: Path | str, *, wait_s: float = 30.0, spark_warehouse: Path | None = None) -> Snapshot:
        """The workspace's tables the service reads, from its DuckDB file or, failing that, from the Spark
        warehouse its batch wrote (``engine.spark_warehouse``; default ``<root>/spark``)."""
        root = Path(root)
        path = root / DB_FILE
        manifest = None if path.exists() else warehouse.manifest_of(root, spark_warehouse)
        if not path.exists() and manifest is None:
            raise InputError("workspace has no database (run `chainlight ingest` or `chainlight demo` first)",
                             file=str(root))
        started = time.perf_counter()
        db = duckdb.connect(":memory:")
        try:  # the path is the operator's, not a request's; quoted as a literal
            if manifest is None:
                wait_for_workspace(lambda: db.execute(f"ATTACH {sql_literal(str(path))} AS src (READ_ONLY)"),
                                   wait_s)
            else:  # a Spark-made workspace: its current Parquet version folders (engine/warehouse.py)
                db.execute("ATTACH ':memory:' AS src")
        except WorkspaceBusy:
            db.close()
            raise
        tables: dict[str, int] = {}
        try:
            # the shared business rules read the workspace's tables by their plain names
            db.execute("SET search_path = 'memory.main,src.main'")
            if manifest is not None:
                warehouse.attach(db, manifest, "src.main")
            db.execute(f"CREATE TEMP VIEW {SALES_VIEW} AS " + load_sql("chainlight", "sales"))
            for name, sql in named_queries("snapshot").items():
                try:
                    db.execute(f"CREATE TABLE {name} AS {sql}")
                except duckdb.CatalogException:
                    log.info("snapshot: %s skipped (its source table is absent)", name)
                    continue
                tables[name] = int(db.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]
        finally:
            db.execute(f"DROP VIEW IF EXISTS {SALES_VIEW}")
            db.execute("RESET search_path")
            db.execute("DETACH src")
        snapshot = cls(root, db, tables, time.perf_counter() - started)
        log.info("snapshot of %s loaded in %.2f s: %s", root, snapshot.load_seconds, tables)
        return snapshot

    # -- reading ----------------------------------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        con: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self.db.cursor()
        return con

    def view(self) -> SnapshotView:
        return SnapshotView(self, self._cursor())

    def has(self, *names: str) -> bool:
        return all(n in self.tables for n in names)

    def rows(self, query: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """A named query from ``serve/sql/queries.sql`` with bound parameters, as JSON-safe dicts."""
        cursor = self._cursor().execute(named_queries("queries")[query], params)
        columns = [d[0] for d in cursor.description or []]
        return [{c: _clean(v) for c, v in zip(columns, row, strict=True)} for row in cursor.fetchall()]

    def one(self, query: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> dict[str, Any] | None:
        found = self.rows(query, params)
        return found[0] if found else None

    def close(self) -> None:
        self.db.close()
