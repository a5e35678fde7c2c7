"""A workspace: one folder holding one DuckDB database file (plus Parquet exports and caches).

Stages write through ``Workspace.stage``: new tables are built under temporary names and swapped in
with one transaction, so a stage that fails midway leaves the previous good tables untouched. Every
batch run gets a run id, recorded in ``runs``; every derived row carries the run id that made it.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from chainlight import tables
from chainlight.config import Config
from chainlight.engine import DB_FILE, Engine, open_engine
from chainlight.engine.base import check_identifier
from chainlight.errors import ChainlightError, InputError, StageError

log = logging.getLogger(__name__)

__all__ = ["DB_FILE", "StageResult", "StageWriter", "Workspace", "new_run_id"]


@dataclass
class StageResult:
    """What a stage's ``run`` returns: its run id, the tables it swapped in and its figures."""

    stage: str
    run_id: str
    tables: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def new_run_id(stage: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stage}-{stamp}-{secrets.token_hex(3)}"


class Workspace:
    def __init__(self, root: Path | str, config: Config | None = None, *, create: bool = True,
                 read_only: bool = False) -> None:
        self.root = Path(root)
        if not self.root.exists():
            if not create:
                raise InputError("workspace does not exist (run `chainlight ingest` or `chainlight demo` first)",
                                 file=str(self.root))
            self.root.mkdir(parents=True)
        elif not self.root.is_dir():
            raise InputError("workspace path is not a folder", file=str(self.root))
        self.config = config or Config()
        try:
            self.engine: Engine = open_engine(self.config.engine, self.root, read_only=read_only)
        except duckdb.Error as exc:  # corrupt, not a database, locked by another process, bad setting
            reason = " ".join(str(exc).split())[:300]
            raise InputError(f"cannot open the workspace database: {reason}", file=str(self.root / DB_FILE)) from exc
        if not read_only:
            self._ensure_system_tables()

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_system_tables(self) -> None:
        from chainlight.ingest import storage  # input tables are views over ingested files

        runs = tables.SYSTEM_TABLES["runs"]
        cols = ", ".join(f'"{c.name}" {c.type}' for c in runs.columns)
        self.engine.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
        storage.create_system_tables(self.engine)

    # -- runs -----------------------------------------------------------------------------------
    def record_run(self, run_id: str, stage: str, status: str, started: datetime,
                    stats: Mapping[str, Any] | None = None) -> None:
        self.engine.execute("DELETE FROM runs WHERE run_id = $id", {"id": run_id})
        self.engine.execute(
            "INSERT INTO runs VALUES ($id, $stage, $status, $started, $finished, $stats)",
            {"id": run_id, "stage": stage, "status": status, "started": started,
             "finished": datetime.now(UTC), "stats": json.dumps(stats or {}, ensure_ascii=False, default=str)})

    def last_run(self, stage: str) -> dict[str, Any] | None:
        rows = self.engine.query(
            "SELECT * FROM runs WHERE stage = $s AND status = 'ok' ORDER BY finished_at DESC LIMIT 1",
            {"s": stage}).to_pylist()
        return rows[0] if rows else None

    def table_exists(self, name: str) -> bool:
        return self.engine.table_exists(name)

    def table_or_empty(self, name: str) -> str:
        """The table, or (when the stage that writes it has not run) an empty stand-in view with its registered
        columns, so a later stage's SQL reads it either way. The owning stage's module must be imported."""
        if self.table_exists(name):
            return name
        spec = tables.get(name)
        if spec is None:
            raise KeyError(f"table {name!r} is not registered (import the stage that owns it)")
        columns = ", ".join(f'CAST(NULL AS {c.type}) AS "{c.name}"' for c in spec.columns)
        self.engine.execute(f"CREATE OR REPLACE TEMP VIEW _empty_{name} AS SELECT {columns} WHERE false")
        return f"_empty_{name}"

    def row_count(self, name: str) -> int:
        if not self.engine.table_exists(name):
            return 0
        return int(self.engine.scalar(f"SELECT count(*) FROM {check_identifier(name)}"))

    @contextmanager
    def stage(self, name: str) -> Iterator[StageWriter]:
        """Build a stage's tables aside and swap them in at once; on error keep the old ones."""
        writer = StageWriter(self, name, new_run_id(name))
        started = datetime.now(UTC)
        try:
            yield writer
            writer.commit()
        except BaseException as exc:
            writer.discard()
            self.record_run(writer.run_id, name, "failed", started, {"error": str(exc)[:500]})
            if isinstance(exc, ChainlightError | KeyboardInterrupt):
                raise
            raise StageError(f"{type(exc).__name__}: {exc}", stage=name) from exc
        self.record_run(writer.run_id, name, "ok", started, {**writer.stats, "tables": writer.counts})


class StageWriter:
    """Collects a stage's new tables (with ``run_id``) and swaps them in one transaction."""

    def __init__(self, ws: Workspace, stage: str, run_id: str) -> None:
        self.ws, self.stage, self.run_id = ws, stage, run_id
        self.pending: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.stats: dict[str, Any] = {}

    def _staging_name(self, table: str) -> str:
        spec = tables.get(table)
        if spec is None or spec.owner != self.stage:
            raise StageError(f"stage may not write table {table!r} (not registered as its own)", stage=self.stage)
        staging = f"__new_{check_identifier(table)}"
        self.pending[table] = staging
        return staging

    def _check_columns(self, table: str, staging: str) -> None:
        spec = tables.get(table)
        assert spec is not None
        have = [c for c, _ in self.ws.engine.columns(staging)]
        missing = [c for c in spec.column_names if c not in have]
        if missing:
            raise StageError(f"output lacks declared column(s) {', '.join(missing)}", stage=self.stage, table=table)

    def write_sql(self, table: str, select_sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Materialise ``select_sql`` (plus ``run_id``) as the stage's next version of ``table``."""
        staging = self._staging_name(table)
        self.ws.engine.execute(
            f"CREATE OR REPLACE TABLE {staging} AS SELECT *, CAST($run_id AS VARCHAR) AS run_id "
            f"FROM ({select_sql})", {**(params or {}), "run_id": self.run_id}, table=table)
        self._check_columns(table, staging)
        self.counts[table] = self.ws.row_count(staging)
        return self.counts[table]

    def write_arrow(self, table: str, data: pa.Table) -> int:
        staging = self._staging_name(table)
        data = data.append_column("run_id", pa.array([self.run_id] * data.num_rows, pa.string()))
        self.ws.engine.write_arrow(staging, data)
        self._check_columns(table, staging)
        self.counts[table] = data.num_rows
        return data.num_rows

    def commit(self) -> None:
        engine = self.ws.engine
        with engine.transaction():
            for table, staging in self.pending.items():
                engine.execute(f"DROP TABLE IF EXISTS {table}", table=table)
                engine.execute(f"ALTER TABLE {staging} RENAME TO {table}", table=table)
        self.pending.clear()

    def discard(self) -> None:
        for staging in self.pending.values():
            try:
                self.ws.engine.execute(f"DROP TABLE IF EXISTS {staging}")
            except StageError:
                log.warning("could not drop staging table %s", staging)
        self.pending.clear()
