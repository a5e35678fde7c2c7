"""Where ingested rows live: one physical table per input file, presented through views.

Each file's checked rows (good and bad, with ``_field``/``_reason``/``_record``) are written once, to a
table of their own, named after the file. The data-contract tables (``invoices``, …) and ``quarantine``
are views over those tables, rebuilt in the same transaction that swaps a file's table in. This keeps
ingest to a single write of the data, makes re-ingesting a file a rename, and numbers rows by their
position in the file's own table (less the reader's rejected lines, kept in ``ingest_row_gaps``).
"""

from __future__ import annotations

import hashlib

from chainlight import tables
from chainlight.engine import Engine
from chainlight.engine.base import sql_literal

PREFIX = "_in_"
ROW_FLAGS = ("_field", "_reason", "_record")


def storage_table(table: str, file_key: str) -> str:
    return f"{PREFIX}{table}_{hashlib.sha1(file_key.encode('utf-8')).hexdigest()[:16]}"


def row_number_sql(ordinal: str, file_key: str, has_gaps: bool) -> str:
    """The file data-row number of the row at ``ordinal`` (SQL) of a file's table (see ingest._row_numbering)."""
    if not has_gaps:
        return ordinal
    return (f"({ordinal} + (SELECT count(*) FROM ingest_row_gaps g "
            f"WHERE g.file = {sql_literal(file_key)} AND g.gap < {ordinal}))")


def create_system_tables(engine: Engine) -> None:
    for name in ("ingest_files", "ingest_rejects", "ingest_row_gaps"):
        spec = tables.SYSTEM_TABLES[name]
        cols = ", ".join(f'"{c.name}" {c.type}' for c in spec.columns)
        engine.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
    if not engine.table_exists("quarantine"):
        refresh_views(engine)


def refresh_views(engine: Engine) -> None:
    """(Re)build every input-table view and ``quarantine`` from ``ingest_files``."""
    files = engine.query("SELECT f.file, f.table_name, f.run_id, f.storage_table, "
                         "EXISTS (SELECT 1 FROM ingest_row_gaps g WHERE g.file = f.file) AS has_gaps "
                         "FROM ingest_files f ORDER BY f.table_name, f.file").to_pylist()
    quarantine_parts = []
    for name, spec in tables.INPUT_TABLES.items():
        cols = ", ".join(f'"{c.name}"' for c in spec.columns)
        empty = ", ".join(f'CAST(NULL AS {c.type}) AS "{c.name}"' for c in spec.columns)
        parts = [f"SELECT {empty}, CAST(NULL AS VARCHAR) AS _file, CAST(NULL AS BIGINT) AS _row WHERE FALSE"]
        for f in (f for f in files if f["table_name"] == name):
            row = row_number_sql(engine.dialect.row_ordinal("t"), f["file"], f["has_gaps"])
            source = f"{f['storage_table']} t"
            parts.append(f"SELECT {cols}, {sql_literal(f['file'])} AS _file, {row} AS _row FROM {source} "
                         "WHERE _reason IS NULL")
            quarantine_parts.append(
                f"SELECT {sql_literal(f['run_id'])} AS run_id, {sql_literal(name)} AS table_name, "
                f"{sql_literal(f['file'])} AS file, {row} AS row, _field AS field, _reason AS reason, "
                f"_record AS record FROM {source} WHERE _reason IS NOT NULL")
        engine.execute(f"CREATE OR REPLACE VIEW {name} AS " + " UNION ALL ".join(parts), table=name)
    quarantine_parts.append(
        "SELECT f.run_id, r.table_name, r.file, r.row, CAST(NULL AS VARCHAR) AS field, r.reason, r.raw AS record "
        "FROM ingest_rejects r JOIN ingest_files f ON f.file = r.file")
    engine.execute("CREATE OR REPLACE VIEW quarantine AS " + " UNION ALL ".join(quarantine_parts), table="quarantine")
