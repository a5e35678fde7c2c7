"""Reading a Spark-made warehouse without Spark: its manifest's Parquet folders as DuckDB views.

The online service keeps what it needs in memory and loads it the same way whichever engine made the
tables: from a DuckDB file it attaches the file; from a Spark warehouse it reads the current manifest and
exposes each table as ``read_parquet`` over its version folders and each view as its SQL (kept in Spark's
dialect, turned back into DuckDB's by sqlglot). No JVM in the service workers; the folders the manifest
names stay on disk for ``engine.spark_retain_seconds`` after a batch replaces them, longer than a load takes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chainlight.engine import SPARK_FOLDER
from chainlight.engine.base import check_identifier, sql_literal

MANIFEST = "manifest.json"


def manifest_of(root: Path, warehouse: Path | None = None) -> Path | None:
    """The manifest of the Spark warehouse of workspace ``root`` (default ``<root>/spark``), or None."""
    path = (warehouse or root / SPARK_FOLDER) / MANIFEST
    return path if path.is_file() else None


def attach(con: Any, manifest: Path, schema: str) -> list[str]:
    """Create, in DuckDB schema ``schema`` of connection ``con``, a view per table and view of the warehouse
    as its manifest names them now; return their names. The manifest is read once: one consistent version."""
    import sqlglot

    catalog: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
    warehouse = manifest.parent
    schema = ".".join(check_identifier(part) for part in schema.split("."))
    names = []
    for name, folders in catalog.get("tables", {}).items():
        files = ", ".join(sql_literal(str(warehouse / f / "*.parquet")) for f in folders)
        con.execute(f"CREATE VIEW {schema}.{check_identifier(name)} AS SELECT * FROM read_parquet([{files}])")
        names.append(name)
    for name, spark_sql in catalog.get("views", {}).items():  # in creation order: what a view reads comes first
        body = sqlglot.transpile(spark_sql, read="spark", write="duckdb")[0]
        con.execute(f"CREATE VIEW {schema}.{check_identifier(name)} AS {body}")
        names.append(name)
    return names
