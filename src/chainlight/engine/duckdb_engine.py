"""The embedded default engine: one DuckDB database file per workspace."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from chainlight import uscc
from chainlight.engine.base import (
    BATCH_ROWS,
    ArrowRef,
    BatchFunction,
    Dialect,
    Engine,
    TableRef,
    check_identifier,
    group_slices,
    one_batch,
    ordered_map,
    quote_identifier,
    sql_literal,
    sql_literals,
)


def _sql_list(values: Sequence[str]) -> str:
    return "[" + sql_literals(values) + "]"


class DuckDBDialect(Dialect):
    name = "duckdb"

    def row_ordinal(self, table: str) -> str:
        return f"({table}.rowid + 1)"

    def csv_source(self, columns: Sequence[str], delimiter: str) -> str:
        spec = "{" + ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in columns) + "}"
        delim = "\\t" if delimiter == "\t" else delimiter
        return (f"read_csv($path, header = true, auto_detect = false, columns = {spec}, delim = '{delim}', "
                "quote = '\"', escape = '\"', store_rejects = true, rejects_table = 'reject_errors', "
                "rejects_scan = 'reject_scans', max_line_size = 10000000)")

    def csv_rejects(self, columns: Sequence[str], delimiter: str) -> str:
        # The reader appends to reject_errors (dropped before each file); error types sorted: one spelling.
        error = "lower(CAST(error_type AS VARCHAR))"
        return (f"(SELECT line - 1 AS row, string_agg(DISTINCT {error}, '; ' ORDER BY {error}) AS reason, "
                "any_value(csv_line) AS raw FROM reject_errors "
                "WHERE scan_id IN (SELECT scan_id FROM reject_scans WHERE file_path = $path) GROUP BY line)")

    def parquet_source(self, columns: Sequence[tuple[str, str]]) -> str:
        select = ", ".join(f"CAST({quote_identifier(raw)} AS VARCHAR) AS {quote_identifier(clean)}" for raw, clean in columns)
        # Legacy writers store text as untagged binary: read it as UTF-8 text (invalid UTF-8 fails the file).
        return f"(SELECT {select} FROM read_parquet($path, binary_as_string = true))"

    def regexp_full_match(self, expr: str, pattern: str) -> str:
        return f"regexp_full_match({expr}, '{pattern}')"

    def uscc_checksum_ok(self, expr: str) -> str:
        return f"chainlight_uscc_ok({expr})"  # vectorised Python UDF registered on every connection

    def try_date(self, expr: str) -> str:
        # ISO dates take the fast cast; other spellings fall back to the format list.
        return f"coalesce(TRY_CAST({expr} AS DATE), CAST(try_strptime({expr}, {_sql_list(self.date_formats)}) AS DATE))"

    def try_timestamp(self, expr: str) -> str:
        return f"try_strptime({expr}, {_sql_list(self.timestamp_formats)})"

    def json_record(self, fields: Sequence[tuple[str, str]]) -> str:
        pairs = ", ".join(f"{sql_literal(key)}, {expr}" for key, expr in fields)
        return f"CAST(json_object({pairs}) AS VARCHAR)"


DUCKDB_DIALECT = DuckDBDialect()


class DuckDBEngine(Engine):
    name = "duckdb"
    dialect = DUCKDB_DIALECT
    in_process = True
    supports_transactions = True
    supports_python_udfs = True
    supports_csv_rejects = True
    supports_update = True

    def __init__(self, path: Path | str = ":memory:", *, threads: int | None = None,
                 memory_limit: str | None = None, read_only: bool = False) -> None:
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.con = duckdb.connect(str(path), read_only=read_only, config=config)
        self.con.create_function("chainlight_uscc_ok", uscc.checksum_ok_arrow, ["VARCHAR"], "BOOLEAN",  # type: ignore[call-overload]
                                 type="arrow", null_handling="special", side_effects=False)

    def _execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> None:
        self.con.execute(sql, params).fetchall()  # DuckDB 2 wants every result consumed

    def _query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> pa.Table:
        relation = self.con.sql(sql, params=params)
        if relation is None:  # a statement that returns nothing
            return pa.table({})
        # DuckDB 1.4 renamed arrow() to to_arrow_table()
        return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()

    def _map_batches(self, name: str, sql: str, fn: BatchFunction, schema: pa.Schema,
                     params: Mapping[str, Any] | None, group_by: list[str]) -> None:
        """The input is read as Arrow first (a streaming result would be cut short by the next statement on
        this connection, and the query may read its temp tables); the output streams into the table."""
        if group_by:
            data = self._query(f"SELECT * FROM ({sql}) AS _blocks ORDER BY {', '.join(group_by)}", params)
            batches: Iterator[pa.RecordBatch] = (one_batch(g) for g in group_slices(data, group_by))
        else:
            batches = iter(self._query(sql, params).to_batches(max_chunksize=BATCH_ROWS))
        view = f"__blocks_{name}"
        self.con.register(view, pa.RecordBatchReader.from_batches(schema, ordered_map(batches, fn, schema)))
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {view}")
        finally:
            self.con.unregister(view)

    def _shareable(self, name: str, sql: str, params: Mapping[str, Any] | None, key: str) -> TableRef:
        """The Arrow result: block functions run in this process (or in workers forked from it)."""
        return ArrowRef(key, self._query(sql, params))

    def write_arrow(self, name: str, data: pa.Table, *, replace: bool = True) -> None:
        check_identifier(name)
        view = f"__arrow_{name}"
        self.con.register(view, data)
        try:
            verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE"
            self.con.execute(f"{verb} {name} AS SELECT * FROM {view}")
        finally:
            self.con.unregister(view)

    def write_parquet(self, name: str, folder: Path) -> None:
        check_identifier(name)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_parquet($files)",
                         {"files": str(folder / "*.parquet")})

    def register_arrow(self, name: str, data: pa.Table) -> None:
        self.con.register(check_identifier(name), data)

    def table_exists(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT (SELECT count(*) FROM duckdb_tables() WHERE table_name = $n AND NOT temporary) + "
            "(SELECT count(*) FROM duckdb_views() WHERE view_name = $n AND NOT temporary)", {"n": name}).fetchall()
        return bool(rows[0][0])

    def columns(self, name: str) -> list[tuple[str, str]]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = $n "
            "ORDER BY column_index", {"n": name}).fetchall()
        return [(r[0], r[1]) for r in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()
