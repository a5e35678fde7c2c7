"""Reading one input file on Spark's executors with DuckDB's own reader, as a SQL table function.

Ingest promises that every row of a file is loaded or quarantined with a reason and a row number. On
DuckDB that comes from ``read_csv`` with reject tables; Spark's CSV reader cannot say which line a
record came from nor why a line was bad. So on Spark the file is read *on an executor* by the very same
DuckDB relation (``DuckDBDialect.csv_source`` / ``parquet_source``), streamed out as Arrow batches by a
PyArrow-native table function (``arrow_udtf``): parsing rules, reject reasons and row numbers are equal on
both engines by construction, and no row passes through the driver. Each row carries its 1-based
position in the file's parsed records (``_ordinal``: Spark tables have no row order to ask later);
the reader's rejects follow as rows with ``_ordinal`` NULL and ``_reject_*`` set.

JSON Lines, which no engine parses with ingest's rules, is read the same way by a Python reader named in
the spec (``Dialect.rows_source``: ingest's own line parser, imported on the executor), so its rows do not
pass through the driver either.

One file is one task (a file is read sequentially; many files read in parallel): split very large
inputs into several files (``invoices.2024-q1.csv``, …). Executors need chainlight installed (it is
imported there) and must see the file's path (a shared file system on a cluster).
"""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

FUNCTION = "chainlight_read_file"
BATCH_ROWS = 65_536
_TEXTS = pa.list_(pa.string())
SCHEMA = ("_ordinal bigint, _cols array<string>, _reject_row bigint, _reject_reason string, _reject_raw string")



def file_spec(kind: str, columns: list[str], delimiter: str = ",", *, reader: str = "",
              options: dict[str, Any] | None = None) -> str:
    """The table function's second argument: what to read (format, the file's column names in order, the
    delimiter; for ``rows``, the Python reader's name and options), as base64 of JSON, so it sits in a SQL
    literal with no quoting or escaping question."""
    plan = json.dumps({"kind": kind, "columns": columns, "delimiter": delimiter, "reader": reader,
                       "options": options or {}}, ensure_ascii=False)
    return base64.b64encode(plan.encode("utf-8")).decode("ascii")


def read_file(path: str, spec: str) -> Iterator[pa.Table]:
    """The file's rows (``_ordinal``, ``_cols``) then its rejects, in batches; runs on an executor."""
    import duckdb

    from chainlight.engine.duckdb_engine import DUCKDB_DIALECT

    plan: dict[str, Any] = json.loads(base64.b64decode(spec))
    if plan["kind"] == "rows":
        yield from _python_rows(path, plan["reader"], plan["options"])
        return
    if plan["kind"] == "csv":
        names = [f"_c{i}" for i in range(len(plan["columns"]))]
        source = DUCKDB_DIALECT.csv_source(names, plan["delimiter"])
    else:
        pairs = [(raw, f"_c{i}") for i, raw in enumerate(plan["columns"])]
        names = [clean for _, clean in pairs]
        source = DUCKDB_DIALECT.parquet_source(pairs)
    con = duckdb.connect(config={"threads": 1})  # one executor core per task
    try:
        cols = "[" + ", ".join(names) + "]" if names else "CAST([] AS VARCHAR[])"
        reader = con.sql(f"SELECT {cols} AS _cols FROM {source}", params={"path": path}).to_arrow_reader(BATCH_ROWS)
        done = 0
        for batch in reader:
            yield _rows_batch(batch.column(0).cast(_TEXTS), done)
            done += batch.num_rows
        if plan["kind"] == "csv":
            rejects = con.sql(f"SELECT * FROM {DUCKDB_DIALECT.csv_rejects(names, plan['delimiter'])} r ORDER BY row",
                              params={"path": path}).to_arrow_table()
            n = rejects.num_rows
            yield pa.table({"_ordinal": pa.nulls(n, pa.int64()), "_cols": pa.nulls(n, _TEXTS),
                            "_reject_row": rejects["row"].cast(pa.int64()),
                            "_reject_reason": rejects["reason"].cast(pa.string()),
                            "_reject_raw": rejects["raw"].cast(pa.string())})
    finally:
        con.close()


def _python_rows(path: str, reader: str, options: dict[str, Any]) -> Iterator[pa.Table]:
    """A Python reader's good rows in batches, ``_ordinal`` counting them; its rejects are the caller's
    (ingest learns them in the pass that finds the columns), so they are skipped here."""
    module, name = reader.split(":")
    rows: list[list[str | None]] = []
    done = 0
    for values, _reject in getattr(importlib.import_module(module), name)(path, **options):
        if values is not None:
            rows.append(values)
        if len(rows) == BATCH_ROWS:
            yield _rows_batch(pa.array(rows, _TEXTS), done)
            done += len(rows)
            rows = []
    if rows:
        yield _rows_batch(pa.array(rows, _TEXTS), done)


def _rows_batch(cols: pa.Array, done: int) -> pa.Table:
    """Good rows ``done + 1`` … in the function's schema: their text columns, no reject fields."""
    n = len(cols)
    return pa.table({"_ordinal": pa.array(range(done + 1, done + n + 1), pa.int64()), "_cols": cols,
                     "_reject_row": pa.nulls(n, pa.int64()), "_reject_reason": pa.nulls(n, pa.string()),
                     "_reject_raw": pa.nulls(n, pa.string())})


class ReadFile:
    """``chainlight_read_file(path, spec)``: the table function Spark SQL calls (see module docstring)."""

    def eval(self, path: pa.Array, spec: pa.Array) -> Iterator[pa.Table]:
        yield from read_file(str(path[0].as_py()), str(spec[0].as_py()))


def register(session: Any) -> None:
    """Make ``chainlight_read_file`` callable from this session's SQL."""
    from pyspark.sql.functions import arrow_udtf

    session.udtf.register(FUNCTION, arrow_udtf(ReadFile, returnType=SCHEMA))
