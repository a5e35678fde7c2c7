"""The engine interface, after splink's DatabaseAPI: shared steps are final here, backends fill in a few.

Stage code talks only to ``Engine``: it runs ``.sql`` files (identifiers substituted from a checked
allow-list, values bound as parameters), reads results as Arrow, writes Arrow tables, and swaps a
stage's new tables in atomically. Spelling differences between SQL dialects live in ``Dialect``.
"""

from __future__ import annotations

import logging
import re
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from chainlight.errors import StageError

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Dialect:
    """What differs in spelling between engines; stage SQL asks, never branches on engine names.

    The methods return SQL fragments; the arguments are SQL expressions or trusted literals.
    """

    name = "ansi"
    supports_transactions = True
    date_formats = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
    timestamp_formats = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d")

    def regexp_full_match(self, expr: str, pattern: str) -> str:
        raise NotImplementedError

    def uscc_checksum_ok(self, expr: str) -> str:
        """A valid GB 32100 code (as ``uscc.is_valid`` on a normalised code) in plain SQL: 18 characters of
        the alphabet, a numeric division code and the check character (17 weighted terms). NULL gives
        NULL. Engines with UDFs do better."""
        from chainlight.uscc import ALPHABET
        total = " + ".join(f"(instr('{ALPHABET}', substr({expr}, {i + 1}, 1)) - 1) * {pow(3, i, 31)}" for i in range(17))
        return (f"(length({expr}) = 18 AND translate({expr}, '{ALPHABET}', '') = '' "
                f"AND translate(substr({expr}, 3, 6), '0123456789', '') = '' "
                f"AND substr('{ALPHABET}', ((31 - ({total}) % 31) % 31) + 1, 1) = substr({expr}, 18, 1))")

    def try_double(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS DOUBLE)"

    def try_date(self, expr: str) -> str:
        raise NotImplementedError

    def try_timestamp(self, expr: str) -> str:
        raise NotImplementedError

    #: A column that file relations (``csv_source``, ``parquet_source``) carry and ingest keeps, holding a
    #: row's 1-based position in the file: for engines whose tables have no row order (None: ``rowid``).
    ordinal_column: str | None = None

    def row_ordinal(self, table: str) -> str:
        """1-based position of a row of ``table`` in insertion (file) order."""
        raise NotImplementedError

    def csv_rejects(self, columns: Sequence[str], delimiter: str) -> str:
        """A relation of the lines ``csv_source`` (same arguments, ``$path``) rejected: ``row`` (file data
        row), ``reason`` (the reader's error types), ``raw`` (the line), one row per rejected line."""
        raise NotImplementedError

    def csv_source(self, columns: Sequence[str], delimiter: str) -> str:
        """A relation reading the CSV file ``$path`` with every column as text, keeping rejects."""
        raise NotImplementedError

    def parquet_source(self, columns: Sequence[tuple[str, str]]) -> str:
        """A relation reading Parquet file ``$path`` with (raw name, clean name) columns as text."""
        raise NotImplementedError

    #: Whether ``rows_source`` runs a Python file reader where the data lives (cluster executors); when
    #: False, callers parse such files in-process and register the rows.
    reads_rows_remotely: bool = False

    def rows_source(self, reader: str, columns: Sequence[str], options: Mapping[str, Any]) -> str:
        """A relation of the rows Python function ``reader`` ("module:function", called with ``$path`` and
        ``options``; it yields (values, None) per good row and (None, reject) per bad one, which is skipped: the
        caller learns rejects in its own pass) reads from file ``$path``, with text ``columns`` in the order
        of the values, run on the engine's executors."""
        raise NotImplementedError

    def json_record(self, fields: Sequence[tuple[str, str]]) -> str:
        """A JSON object text from (key, SQL expression) pairs (for quarantined rows). Keys are input
        names, so they may hold any character: they are written as escaped string literals."""
        raise NotImplementedError


def hex_value(expr: str, digits: int = 4) -> str:
    """A SQL BIGINT from the first ``digits`` (at most 15) lower-case hex digits of text ``expr``, in plain
    SQL that every engine spells alike (each digit as BIGINT: Spark's INT products overflow past 2³¹)."""
    if not 1 <= digits <= 15:
        raise ValueError("hex_value takes 1 to 15 hex digits")
    return "(" + " + ".join(f"CAST(instr('0123456789abcdef', substr({expr}, {i + 1}, 1)) - 1 AS BIGINT) * {16 ** (digits - 1 - i)}"
                            for i in range(digits)) + ")"


def stable_hash(expr: str, digits: int = 4) -> str:
    """A SQL BIGINT from the first ``digits`` hex digits of the MD5 of text ``expr``: the same on every engine
    and every run (``hash()`` differs between DuckDB and Spark)."""
    return hex_value(f"md5({expr})", digits)


def stable_bucket(expr: str, buckets: int = 1000) -> str:
    """A SQL expression in 0 … ``buckets``-1 from the first 16 bits of the MD5 of text ``expr`` (see
    ``stable_hash``), for hash samples."""
    return f"(({stable_hash(expr, 4)} * {int(buckets)}) // 65536)"


def sql_literal(text: str) -> str:
    """A SQL string literal (single quotes doubled): the one quoting helper, for trusted fragments that
    cannot be bound as parameters (DDL, CSV reader options); user values go through parameters."""
    return "'" + text.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    """A double-quoted SQL identifier (inner quotes doubled), for column names that come from files."""
    return '"' + name.replace('"', '""') + '"'


def sql_literals(values: Sequence[str]) -> str:
    """Comma-separated string literals, for ``IN (...)`` and list constructors."""
    return ", ".join(sql_literal(v) for v in values)


def check_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def render(sql: str, identifiers: Mapping[str, str] | None = None) -> str:
    """Substitute ``{{ name }}`` with checked identifiers; values must go through parameters."""
    identifiers = identifiers or {}

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in identifiers:
            raise KeyError(f"SQL placeholder {{{{ {key} }}}} has no value")
        return check_identifier(identifiers[key])

    return _PLACEHOLDER.sub(sub, sql)


def load_sql(package: str, name: str) -> str:
    """Read ``sql/<name>.sql`` shipped next to a stage package."""
    return (resources.files(package) / "sql" / f"{name}.sql").read_text(encoding="utf-8")


#: A block function: one Arrow batch (a batch of rows, or one whole group) in, one Arrow batch or table out.
BatchFunction = Callable[[pa.RecordBatch], "pa.RecordBatch | pa.Table"]
BATCH_ROWS = 65_536  # rows per batch an in-process engine hands a block function
MAP_THREADS = 2  # batches an in-process engine computes ahead, in order


def conform(out: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.RecordBatch:
    """A block function's output as one batch of exactly ``schema`` (columns by name, types cast), so
    both engines store the same types whatever the function built."""
    if isinstance(out, pa.Table):
        out = out.combine_chunks()
        out = (out.to_batches()[0] if out.num_rows else
               pa.RecordBatch.from_pylist([], schema=out.schema))
    missing = [f.name for f in schema if f.name not in out.schema.names]
    if missing:
        raise ValueError(f"the block function's output lacks columns {missing}")
    return pa.RecordBatch.from_arrays([out.column(f.name).cast(f.type) for f in schema], schema=schema)


def one_batch(data: pa.Table) -> pa.RecordBatch:
    """A table (one group's rows) as a single record batch, for a block function."""
    combined = data.combine_chunks()
    return combined.to_batches()[0] if combined.num_rows else pa.RecordBatch.from_pylist([], schema=data.schema)


def group_slices(data: pa.Table, keys: Sequence[str]) -> Iterator[pa.Table]:
    """Runs of equal ``keys`` in a table sorted by them (NULLs form one group, as in SQL GROUP BY)."""
    if not data.num_rows:
        return
    values = list(zip(*(data.column(k).to_pylist() for k in keys), strict=True))
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            yield data.slice(start, i - start)
            start = i


def ordered_map(batches: Iterable[pa.RecordBatch], fn: BatchFunction, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """``fn`` over ``batches`` lazily and in order, the next ones computed ahead on a second thread (Arrow
    and numpy release the GIL): what the executors of a cluster engine do, on this machine."""
    with ThreadPoolExecutor(max_workers=MAP_THREADS) as pool:
        pending: deque[Future[pa.RecordBatch | pa.Table]] = deque()
        for batch in batches:
            pending.append(pool.submit(fn, batch))
            if len(pending) > MAP_THREADS:
                yield conform(pending.popleft().result(), schema)
        while pending:
            yield conform(pending.popleft().result(), schema)


class TableRef(ABC):
    """A query's result where block functions can read it themselves (``Engine.shareable``): what is shipped
    with a block function is this reference, never the rows, so a cluster engine's driver never holds them.
    ``key`` names the content (the caller's fingerprint, or a fresh id) so a worker can build an index from
    ``read()`` once per process and reuse it (``resolve.blocks.indexed``). Picklable."""

    key: str
    schema: pa.Schema

    @abstractmethod
    def read(self) -> pa.Table:
        """The rows, read where this is called (a worker process, or the driver of an in-process engine)."""


class ArrowRef(TableRef):
    """An in-process engine's shared table: the Arrow result itself (forked workers inherit it)."""

    def __init__(self, key: str, table: pa.Table) -> None:
        self.key, self.table, self.schema = key, table, table.schema

    def read(self) -> pa.Table:
        return self.table


class ParquetRef(TableRef):
    """A shared table written as a folder of Parquet files that every worker can open (a cluster engine's
    warehouse); read with pyarrow in the worker, never through the driver."""

    def __init__(self, key: str, path: str, schema: pa.Schema) -> None:
        self.key, self.path, self.schema = key, path, schema

    def read(self) -> pa.Table:
        import pyarrow.dataset as ds  # files named ``_…`` or ``.…`` (``_SUCCESS``, checksums) are skipped

        return ds.dataset(self.path, format="parquet", schema=self.schema).to_table()


CAPABILITIES = ("in_process", "supports_transactions", "supports_python_udfs", "supports_csv_rejects",
                "supports_update")


class Engine(ABC):
    """A SQL engine over a workspace's tables. Capability flags (ibis-style) say what a backend can do;
    callers ask a capability, never an engine's name."""

    name: str = "engine"
    dialect: Dialect
    #: Python on this machine may pull whole tables into memory (an embedded engine); a stage that
    #: computes on whole tables in Python (numpy, scipy, forked workers) needs it.
    in_process: bool = False
    #: Native multi-statement transactions (otherwise ``transaction`` emulates the swap).
    supports_transactions: bool = False
    #: Scalar Python functions callable from SQL (DuckDB's Arrow UDFs).
    supports_python_udfs: bool = False
    #: The CSV reader keeps rejected lines in reject tables (ingest's row accounting relies on it).
    supports_csv_rejects: bool = False
    #: ``UPDATE … FROM`` and friends.
    supports_update: bool = False

    @property
    def capabilities(self) -> frozenset[str]:
        """The names of the flags above that are true, for messages and stage requirements."""
        return frozenset(c for c in CAPABILITIES if getattr(self, c))

    # -- shared steps (final) ---------------------------------------------------------------
    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None, *,
                table: str | None = None) -> None:
        log.debug("SQL%s:\n%s", f" -> {table}" if table else "", sql)
        try:
            self._execute(sql, params)
        except Exception as exc:  # wrap with the table and the SQL, like splink does
            raise StageError(f"{type(exc).__name__}: {exc}", table=table, sql=sql) from exc

    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> pa.Table:
        log.debug("SQL query:\n%s", sql)
        try:
            return self._query(sql, params)
        except Exception as exc:
            raise StageError(f"{type(exc).__name__}: {exc}", sql=sql) from exc

    def scalar(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> Any:
        result = self.query(sql, params)
        return result.column(0)[0].as_py() if result.num_rows else None

    def map_batches(self, name: str, sql: str, fn: BatchFunction, schema: pa.Schema, *,
                    params: Mapping[str, Any] | None = None, group_by: Sequence[str] | None = None) -> None:
        """Per-block Python compute where the data lives: the temporary table ``name`` (``schema``) holds
        ``fn`` applied to the rows of query ``sql`` — batch by batch, or, with ``group_by``, to each
        group's rows whole (all rows of one key in one call). Output order is unspecified: read the table
        with an ORDER BY. In-process engines call ``fn`` here; cluster engines ship it to the executors
        (``mapInArrow`` / ``applyInArrow``), so nothing is collected to the driver. ``fn`` must be
        picklable (a module-level function or a ``functools.partial`` of one, with small arguments)."""
        check_identifier(name)
        for key in group_by or ():
            check_identifier(key)
        log.debug("map_batches -> %s%s:\n%s", name, f" by {list(group_by)}" if group_by else "", sql)
        try:
            self._map_batches(name, sql, fn, schema, params, list(group_by or ()))
        except Exception as exc:
            raise StageError(f"{type(exc).__name__}: {exc}", table=name, sql=sql) from exc

    def shareable(self, name: str, sql: str, params: Mapping[str, Any] | None = None, *,
                  key: str | None = None) -> TableRef:
        """The result of query ``sql`` as a table block functions read themselves (``TableRef.read``), for
        an index every worker needs whole (resolve's registry): a cluster engine materialises it where its
        executors read it and hands out a path; an in-process engine hands out the Arrow result. ``name``
        identifies it in this engine (sharing the same name again replaces it); ``key`` names its content
        for the workers' caches (default: a fresh id, so nothing is reused)."""
        check_identifier(name)
        log.debug("shareable %s:\n%s", name, sql)
        try:
            return self._shareable(name, sql, params, key or uuid.uuid4().hex)
        except Exception as exc:
            raise StageError(f"{type(exc).__name__}: {exc}", table=name, sql=sql) from exc

    # -- backend-specific -------------------------------------------------------------------
    @abstractmethod
    def _map_batches(self, name: str, sql: str, fn: BatchFunction, schema: pa.Schema,
                     params: Mapping[str, Any] | None, group_by: list[str]) -> None: ...

    @abstractmethod
    def _shareable(self, name: str, sql: str, params: Mapping[str, Any] | None, key: str) -> TableRef: ...

    @abstractmethod
    def _execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> None: ...

    @abstractmethod
    def _query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> pa.Table: ...

    @abstractmethod
    def write_arrow(self, name: str, data: pa.Table, *, replace: bool = True) -> None:
        """Create (or replace) a table from Arrow data."""

    @abstractmethod
    def write_parquet(self, name: str, folder: Path) -> None:
        """Create (or replace) table ``name`` from the Parquet files in ``folder``, read where the engine's
        workers run (a cluster engine's driver never holds the rows)."""

    @abstractmethod
    def register_arrow(self, name: str, data: pa.Table) -> None:
        """Expose Arrow data as a temporary view for the next queries."""

    @abstractmethod
    def table_exists(self, name: str) -> bool: ...

    @abstractmethod
    def columns(self, name: str) -> list[tuple[str, str]]:
        """(column, type) pairs of a table."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing block; a backend without transactions emulates the swap itself."""

    @abstractmethod
    def close(self) -> None: ...
