"""The scale-out engine: Apache Spark (PySpark 4), tables as Parquet version folders under a warehouse.

Stage SQL is written once in DuckDB's dialect; ``SparkDialect.transpile`` turns it into Spark SQL with
sqlglot (as splink does), plus the few rewrites where the two engines mean different things by the same
spelling (``date_diff('month', …)`` counts month boundaries in DuckDB, whole months in Spark).

Spark has no multi-table transaction over plain Parquet, so the engine keeps its own small catalog:
``<warehouse>/manifest.json`` maps each table to its Parquet folder(s) and each view to its SQL. Writing
a table writes a new folder beside the old one; publishing swaps the manifest with an atomic rename
(write a temporary file, ``os.replace``). ``transaction`` buffers every catalog change and publishes them
with one swap, so a stage that fails midway leaves the previous manifest — the previous good tables —
untouched, as DuckDB's transaction does. A folder the new manifest no longer names is deleted by the
first publication ``retain_seconds`` after it was replaced (readers on the previous manifest finish
first); one writer at a time holds the warehouse (``WriterLock``).

DDL and DML the stages and the workspace use (``CREATE [TEMP] TABLE … [AS]``, ``CREATE [TEMP] VIEW``,
``DROP``, ``ALTER TABLE … RENAME``, ``INSERT``, ``DELETE``, ``UPDATE``) are interpreted against that catalog; queries
run as Spark SQL with named parameters. Temporary tables are computed at once and checkpointed on the
executors (so iterative algorithms do not build ever longer query plans); nothing comes to the driver.

The manifest swap relies on an atomic rename in a POSIX file system (a local disk, NFS, a mounted
volume); on HDFS or object stores use a table format with atomic commits (see the README).
"""

from __future__ import annotations

import copy
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from chainlight.engine.base import (
    BatchFunction,
    Dialect,
    Engine,
    ParquetRef,
    TableRef,
    check_identifier,
    conform,
    one_batch,
    quote_identifier,
    sql_literal,
)
from chainlight.errors import ChainlightError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: Where ``shareable`` writes the tables block functions read themselves (``<warehouse>/shared/<name>-<id>``):
#: not in the manifest, owned by the one writer session, removed when replaced, at close and at the next open.
SHARED = "shared"

#: Settings every session gets unless ``engine.spark_conf`` says otherwise: UTC so that dates and
#: timestamps mean what they mean in DuckDB; no UI or console progress (the CLI shows its own); Spark's
#: own catalog folder out of the current directory (chainlight keeps its tables in its warehouse); 4 MB
#: memory pages, because one task of risk's feature query runs a dozen hash aggregates and sorts at once,
#: each holding at least a page: with the default (up to 64 MB, sized from the heap) a 2g driver failed
#: that query at 20k firms with AGGREGATE_OUT_OF_MEMORY, with 4 MB it runs.
DEFAULT_CONF: dict[str, str] = {
    "spark.buffer.pageSize": "4m",
    # Off: Spark's constraint propagation fails ("key not found") on a UNION ALL of temporary tables checkpointed
    # from aggregates over the same table (risk's per-date history features); it only infers extra filters.
    "spark.sql.constraintPropagation.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), "chainlight-spark-catalog"),
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
}

_SESSION_LOCK = threading.Lock()

LOCK_FILE = ".writer.lock"
#: How long a replaced version folder outlives its replacement (``engine.spark_retain_seconds``).
DEFAULT_RETAIN_SECONDS = 600.0


class WriterLock:
    """One writer per warehouse, as DuckDB allows one writing process per database file.

    An exclusive ``flock`` on ``<warehouse>/.writer.lock``, held from opening the engine (before its
    manifest is read, so no writer publishes over changes it never saw) until ``close``; the holder's pid
    and start time are written into the file for the message a second writer gets. The kernel drops the
    lock when the holder dies, so a crash never leaves the warehouse locked. ``flock`` holds on a local
    disk and on NFSv4; on HDFS or object stores the catalog of a table format (Delta, Iceberg) does this.
    """

    def __init__(self, path: Path, *, wait: float = 0.0) -> None:
        self.path = path
        self._handle = path.open("a+", encoding="utf-8")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._handle.seek(0)
                    holder = self._handle.read().strip() or "another process"
                    self._handle.close()
                    raise WarehouseLocked(
                        f"Spark warehouse {path.parent} has another writer ({holder}); waited {wait:g} s "
                        "(engine.spark_lock_wait). Open it read-only, or run the writers one after the other") from None
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
        self._handle.flush()

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()


class SparkUnavailable(ChainlightError):
    """The Spark engine was chosen but PySpark or Java is missing."""


class WarehouseLocked(ChainlightError):
    """A second writer opened a Spark warehouse another process writes to."""


class SparkDialect(Dialect):
    """Spark SQL spelling: DuckDB SQL transpiled by sqlglot, with semantic rewrites where needed."""

    name = "spark"

    def transpile_expression(self, tree: Any) -> Any:
        """Rewrite DuckDB meanings that sqlglot keeps verbatim but Spark reads differently."""
        def rewrite(node: Any) -> Any:
            if isinstance(node, exp.DateDiff) and (node.text("unit") or "").upper() == "MONTH":
                # DuckDB counts month boundaries crossed; Spark's DATEDIFF(MONTH) counts whole months.
                end, start = node.this, node.expression
                return sqlglot.parse_one(
                    f"((year({end.sql('spark')}) - year({start.sql('spark')})) * 12 "
                    f"+ month({end.sql('spark')}) - month({start.sql('spark')}))", read="spark")
            if isinstance(node, exp.Anonymous) and node.name.lower() == "to_months":
                # DuckDB's month interval from a number; Spark builds a year-month interval
                return exp.Anonymous(this="make_ym_interval", expressions=[
                    exp.Literal.number(0), self.transpile_expression(node.expressions[0])])
            if isinstance(node, exp.IsInf):  # no isinf() in Spark
                return sqlglot.parse_one(f"(abs({node.this.sql('spark')}) = CAST('Infinity' AS DOUBLE))", read="spark")
            if isinstance(node, exp.Anonymous) and node.name.lower() == _JSON_KEEP_NULLS:
                # to_json's options must be a map() call, which sqlglot would respell from DuckDB's
                return exp.Anonymous(this="to_json", expressions=[*node.expressions, exp.Anonymous(
                    this="map", expressions=[exp.Literal.string("ignoreNullFields"), exp.Literal.string("false")])])
            if isinstance(node, exp.Div) and not node.args.get("typed"):
                # DuckDB's ``/`` always divides as DOUBLE; Spark divides integers and decimals as DECIMAL
                # (``t / 12.0`` kept to 6 places). Children first: a replaced node is not visited again.
                return exp.Div(this=exp.cast(self.transpile_expression(node.this), "DOUBLE"),
                               expression=self.transpile_expression(node.expression))
            if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
                return self._ordered_list(node.this)
            return node
        return tree.transform(rewrite)

    def _ordered_list(self, order: Any) -> Any:
        """DuckDB's ``list(x ORDER BY k…)``: Spark's ``collect_list`` keeps no order, so the rows are
        collected with their keys and sorted by a comparator with the same directions and NULL places."""
        keys = [(self.to_spark(o.this), bool(o.args.get("desc")), bool(o.args.get("nulls_first")))
                for o in order.expressions]
        fields = ", ".join([*(f"{k} AS _k{i}" for i, (k, _, _) in enumerate(keys)), f"{self.to_spark(order.this)} AS _v"])
        cases = []
        for i, (_, desc, nulls_first) in enumerate(keys):
            before, after = (1, -1) if desc else (-1, 1)
            null_side = -1 if nulls_first else 1
            cases.append(f"WHEN l._k{i} IS NULL AND r._k{i} IS NOT NULL THEN {null_side} "
                         f"WHEN l._k{i} IS NOT NULL AND r._k{i} IS NULL THEN {-null_side} "
                         f"WHEN l._k{i} < r._k{i} THEN {before} WHEN l._k{i} > r._k{i} THEN {after}")
        return sqlglot.parse_one(f"transform(array_sort(collect_list(struct({fields})), (l, r) -> CASE "
                                 f"{' '.join(cases)} ELSE 0 END), e -> e._v)", read="spark")

    def to_spark(self, tree: Any) -> str:
        """``tree``: a sqlglot expression (its base class name differs across sqlglot versions)."""
        return self.transpile_expression(tree).sql(dialect="spark")

    def transpile(self, sql: str) -> str:
        """DuckDB SQL → Spark SQL (parameters ``$name`` become ``:name``)."""
        return self.to_spark(sqlglot.parse_one(sql, read="duckdb"))

    def regexp_full_match(self, expr: str, pattern: str) -> str:
        return f"regexp_like({expr}, '^(?:{pattern})$')"

    def try_date(self, expr: str) -> str:
        return "coalesce(" + ", ".join(f"try_to_date({expr}, {sql_literal(_java_format(f))})" for f in self.date_formats) + ")"

    def try_timestamp(self, expr: str) -> str:
        return "coalesce(" + ", ".join(f"try_to_timestamp({expr}, {sql_literal(_java_format(f))})"
                                       for f in self.timestamp_formats) + ")"

    # -- reading input files (ingest): DuckDB's reader on the executors, see spark_files ----------------
    ordinal_column = "_ordinal"

    def row_ordinal(self, table: str) -> str:
        return f"{table}._ordinal"

    def _file_rows(self, spec: str, names: Sequence[str]) -> str:
        from chainlight.engine import spark_files
        cols = ", ".join(f"_cols[{i + 1}] AS {quote_identifier(name)}" for i, name in enumerate(names))
        return (f"(SELECT {cols}{', ' if cols else ''}_ordinal FROM {spark_files.FUNCTION}($path, "
                f"'{spec}') WHERE _ordinal IS NOT NULL)")

    def csv_source(self, columns: Sequence[str], delimiter: str) -> str:
        from chainlight.engine import spark_files
        return self._file_rows(spark_files.file_spec("csv", list(columns), delimiter), columns)

    def csv_rejects(self, columns: Sequence[str], delimiter: str) -> str:
        from chainlight.engine import spark_files
        return (f"(SELECT _reject_row AS row, _reject_reason AS reason, _reject_raw AS raw FROM {spark_files.FUNCTION}("
                f"$path, '{spark_files.file_spec('csv', list(columns), delimiter)}') WHERE _ordinal IS NULL)")

    def parquet_source(self, columns: Sequence[tuple[str, str]]) -> str:
        from chainlight.engine import spark_files
        return self._file_rows(spark_files.file_spec("parquet", [raw for raw, _ in columns]),
                               [clean for _, clean in columns])

    reads_rows_remotely = True

    def rows_source(self, reader: str, columns: Sequence[str], options: Mapping[str, Any]) -> str:
        from chainlight.engine import spark_files
        return self._file_rows(spark_files.file_spec("rows", list(columns), reader=reader, options=dict(options)),
                               columns)

    def json_record(self, fields: Sequence[tuple[str, str]]) -> str:
        # Spark drops NULL members unless told; DuckDB's json_object keeps them.
        pairs = ", ".join(f"{sql_literal(key)}, {expr}" for key, expr in fields)
        return f"{_JSON_KEEP_NULLS}(named_struct({pairs}))"


#: A marker function ``transpile_expression`` turns into ``to_json(…, map('ignoreNullFields', 'false'))``.
_JSON_KEEP_NULLS = "chainlight_to_json_keep_nulls"


def _java_format(fmt: str) -> str:
    return (fmt.replace("%Y", "yyyy").replace("%m", "MM").replace("%d", "dd").replace("%H", "HH")
            .replace("%M", "mm").replace("%S", "ss").replace("T", "'T'"))


SPARK_DIALECT = SparkDialect()

_SPARK_TYPES = {
    "StringType": "VARCHAR", "LongType": "BIGINT", "IntegerType": "INTEGER", "ShortType": "SMALLINT",
    "ByteType": "TINYINT", "DoubleType": "DOUBLE", "FloatType": "FLOAT", "BooleanType": "BOOLEAN",
    "DateType": "DATE", "TimestampType": "TIMESTAMP WITH TIME ZONE", "TimestampNTZType": "TIMESTAMP",
    "BinaryType": "BLOB",
}


def spark_session(conf: Mapping[str, str] | None = None) -> Any:
    """The process's SparkSession (created once; local mode unless spark-submit or ``spark.master`` says
    otherwise). Each engine works in its own ``newSession()`` so temporary views never collide."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable("engine 'spark' needs PySpark: pip install 'chainlight[spark]'") from exc
    with _SESSION_LOCK:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        settings = {**DEFAULT_CONF, **(conf or {})}
        builder = SparkSession.builder.appName("chainlight")
        if "spark.master" not in settings and "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit
            builder = builder.master("local[*]")
        for key, value in settings.items():
            builder = builder.config(key, str(value))
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # no Java, bad setting
            reason = " ".join(str(exc).split())[:300]
            raise SparkUnavailable(f"cannot start Spark (is Java 17+ installed?): {reason}") from exc
        session.sparkContext.setLogLevel("FATAL")
        return session


class SparkEngine(Engine):
    """Spark SQL over a warehouse folder of Parquet tables, published through a manifest swap."""

    name = "spark"
    dialect = SPARK_DIALECT
    in_process = False
    supports_transactions = False  # emulated: catalog changes are buffered and swapped at once
    supports_python_udfs = False
    supports_csv_rejects = True  # DuckDB's reader runs on the executors (spark_files)
    supports_update = True  # rewrites the table (see _update)

    def __init__(self, warehouse: Path | str, *, conf: Mapping[str, str] | None = None,
                 read_only: bool = False, session: Any = None, lock_wait: float = 0.0,
                 retain_seconds: float = DEFAULT_RETAIN_SECONDS) -> None:
        self.warehouse = Path(warehouse)
        self.read_only = read_only
        self.retain_seconds = retain_seconds
        self._lock: WriterLock | None = None
        if not read_only:
            (self.warehouse / "tables").mkdir(parents=True, exist_ok=True)
            self._lock = WriterLock(self.warehouse / LOCK_FILE, wait=lock_wait)  # before reading the manifest
            shutil.rmtree(self.warehouse / SHARED, ignore_errors=True)  # a crashed writer's shared tables
        self.spark = (session or spark_session(conf)).newSession()
        for key, value in (conf or {}).items():  # session-level SQL settings apply per engine too
            if key.startswith("spark.sql."):
                self.spark.conf.set(key, str(value))
        from chainlight.engine import spark_files
        spark_files.register(self.spark)  # chainlight_read_file(): ingest's file reader on the executors
        self._temp: dict[str, Any] = {}  # temporary tables: name -> checkpointed DataFrame
        self._shared: dict[str, Path] = {}  # shareable tables: name -> their folder
        self._catalog: dict[str, Any] = self._read_manifest()
        self._tx_depth = 0
        self._register_all()

    # -- the catalog ----------------------------------------------------------------------------
    def _read_manifest(self) -> dict[str, Any]:
        path = self.warehouse / MANIFEST
        if not path.exists():
            return {"version": 0, "tables": {}, "views": {}}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _publish(self, before: dict[str, Any]) -> None:
        """Swap the manifest in with one atomic rename, then remove folders no longer named."""
        if self._tx_depth:
            return  # the transaction publishes once at its end
        if self.read_only:
            raise ChainlightError("the workspace is open read-only")
        self._catalog["version"] = int(self._catalog.get("version", 0)) + 1
        tmp = self.warehouse / f".{MANIFEST}.{uuid.uuid4().hex[:8]}"
        now = time.time()
        kept = {f for folders in self._catalog["tables"].values() for f in folders}
        retired: dict[str, float] = dict(before.get("retired", {}))
        for folders in before["tables"].values():
            retired.update({f: now for f in folders if f not in kept and f not in retired})
        expired = {f for f, since in retired.items() if now - since >= self.retain_seconds and f not in kept}
        self._catalog["retired"] = {f: since for f, since in sorted(retired.items()) if f not in expired and f not in kept}
        tmp.write_text(json.dumps(self._catalog, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.warehouse / MANIFEST)
        for folder in sorted(expired):  # only after the swap: the new manifest no longer names them
            shutil.rmtree(self.warehouse / folder, ignore_errors=True)

    @contextmanager
    def _changing(self) -> Iterator[None]:
        before = copy.deepcopy(self._catalog)
        try:
            yield
        except BaseException:
            self._catalog = before
            raise
        if self._catalog != before:
            try:
                self._publish(before)
            except BaseException:
                self._catalog = before
                self._register_all()
                raise

    def _register_all(self) -> None:
        for name, folders in self._catalog["tables"].items():
            self._register_table(name, folders)
        for name, sql in self._catalog["views"].items():
            self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")

    def _register_table(self, name: str, folders: Sequence[str]) -> None:
        self.spark.read.parquet(*[str(self.warehouse / f) for f in folders]).createOrReplaceTempView(name)

    def _new_folder(self, name: str) -> str:
        return f"tables/{name}/v-{uuid.uuid4().hex[:12]}"

    def _write(self, df: Any, folder: Path) -> None:
        df.write.mode("error").parquet(str(folder))

    def _set_table(self, name: str, df: Any) -> None:
        """Write ``df`` as the next version of persistent table ``name`` (published by the caller)."""
        folder = self._new_folder(name)
        self._write(df, self.warehouse / folder)
        self._catalog["views"].pop(name, None)
        self._catalog["tables"][name] = [folder]
        self._register_table(name, [folder])

    def _set_temp(self, name: str, df: Any) -> None:
        """A temporary table: computed now and kept on the executors' local disk with its lineage cut, so an
        iterative algorithm's plan stays one step deep. On disk, not in the JVM heap: a stage keeps dozens of
        temporary tables, and cached in the heap they held the memory the aggregations need (a risk run at 20k
        firms with a 2g driver failed with AGGREGATE_OUT_OF_MEMORY); the OS page cache keeps recent ones in
        RAM anyway. The JVM's context cleaner frees the blocks of a replaced version."""
        from pyspark import StorageLevel
        frame = df.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)
        frame.createOrReplaceTempView(name)
        self._temp[name] = frame

    def _drop(self, name: str) -> bool:
        if name in self._temp:
            del self._temp[name]
            self.spark.catalog.dropTempView(name)
            return True
        if name in self._catalog["tables"] or name in self._catalog["views"]:
            self._catalog["tables"].pop(name, None)
            self._catalog["views"].pop(name, None)
            self.spark.catalog.dropTempView(name)
            return True
        return False

    # -- statements -------------------------------------------------------------------------------
    def _df(self, tree: Any, params: Mapping[str, Any] | Sequence[Any] | None) -> Any:
        sql = self.dialect.to_spark(tree)
        if params is None or len(params) == 0:
            return self.spark.sql(sql)
        if not isinstance(params, Mapping):
            raise ChainlightError("the spark engine takes named parameters ($name) only")
        used = {p.name for p in tree.find_all(exp.Placeholder)}
        return self.spark.sql(sql, args={k: _param(v) for k, v in params.items() if k in used})

    def _execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> None:
        tree = sqlglot.parse_one(sql, read="duckdb")
        if isinstance(tree, exp.Create):
            self._create(tree, params)
        elif isinstance(tree, exp.Drop):
            for table in tree.args.get("tables") or [tree.this]:
                if not self._drop_published(table.name) and not tree.args.get("exists"):
                    raise ChainlightError(f"table {table.name} does not exist")
        elif isinstance(tree, exp.Alter):
            self._alter(tree)
        elif isinstance(tree, exp.Insert):
            self._insert(tree, params)
        elif isinstance(tree, exp.Delete):
            self._delete(tree, params)
        elif isinstance(tree, exp.Update):
            self._update(tree, params)
        else:
            self._df(tree, params).collect()

    def _drop_published(self, name: str) -> bool:
        with self._changing():
            return self._drop(name)

    def _create(self, tree: exp.Create, params: Mapping[str, Any] | Sequence[Any] | None) -> None:
        target = tree.this
        schema = target if isinstance(target, exp.Schema) else None
        name = check_identifier((schema.this if schema else target).name)
        temporary = any(isinstance(p, exp.TemporaryProperty) for p in tree.find_all(exp.TemporaryProperty))
        kind = (tree.args.get("kind") or "").upper()
        exists = name in self._temp or name in self._catalog["tables"] or name in self._catalog["views"]
        if tree.args.get("exists") and exists:
            return  # IF NOT EXISTS
        if exists and not tree.args.get("replace"):
            raise ChainlightError(f"table {name} already exists")
        if kind == "VIEW":
            body = self.dialect.to_spark(tree.expression)
            self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {body}")
            if not temporary:
                with self._changing():
                    self._catalog["tables"].pop(name, None)
                    self._catalog["views"].pop(name, None)
                    self._catalog["views"][name] = body  # re-inserted last: views it reads come first
            return
        if schema is not None:  # CREATE TABLE name (col type, …)
            ddl = ", ".join(f"`{c.name}` {self.dialect.to_spark(c.args['kind'])}"
                            for c in schema.expressions if isinstance(c, exp.ColumnDef))
            df = self.spark.createDataFrame([], ddl)
        else:
            df = self._df(tree.expression, params)
        if temporary:
            self._set_temp(name, df)
        else:
            with self._changing():
                self._set_table(name, df)

    def _alter(self, tree: exp.Alter) -> None:
        actions = tree.args.get("actions") or []
        if len(actions) != 1 or not isinstance(actions[0], exp.AlterRename):
            raise ChainlightError("only ALTER TABLE … RENAME TO … is supported by the spark engine")
        old, new = tree.this.name, check_identifier(actions[0].this.name)
        with self._changing():
            if old not in self._catalog["tables"]:
                raise ChainlightError(f"table {old} does not exist")
            self._drop(new)
            folders = self._catalog["tables"].pop(old)
            self._catalog["tables"][new] = folders
            self.spark.catalog.dropTempView(old)
            self._register_table(new, folders)

    def _target_frame(self, name: str) -> Any:
        if name not in self._catalog["tables"] and name not in self._temp:
            raise ChainlightError(f"table {name} does not exist")
        return self.spark.table(name)

    def _insert(self, tree: exp.Insert, params: Mapping[str, Any] | Sequence[Any] | None) -> None:
        target = tree.this
        columns = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else None
        name = (target.this if isinstance(target, exp.Schema) else target).name
        table = self._target_frame(name)
        rows = self._df(tree.expression, params)
        from pyspark.sql import functions as F
        names = columns or table.columns
        rows = rows.toDF(*names)
        aligned = rows.select([(F.col(c) if c in names else F.lit(None)).cast(table.schema[c].dataType).alias(c)
                               for c in table.columns])
        if name in self._temp:
            self._set_temp(name, table.unionByName(aligned))
            return
        with self._changing():  # appends become a new folder of the same table
            folder = self._new_folder(name)
            self._write(aligned, self.warehouse / folder)
            folders = [*self._catalog["tables"][name], folder]
            self._catalog["tables"][name] = folders
            self._register_table(name, folders)

    def _delete(self, tree: exp.Delete, params: Mapping[str, Any] | Sequence[Any] | None) -> None:
        name = tree.this.name
        self._target_frame(name)
        where = tree.args.get("where")
        keep = exp.select("*").from_(name)
        if where is not None:
            keep = keep.where(exp.Not(this=exp.Coalesce(this=exp.Paren(this=where.this),
                                                         expressions=[exp.false()])))
        else:
            keep = keep.where(exp.false())
        df = self._df(keep, params)
        if name in self._temp:
            self._set_temp(name, df)
            return
        with self._changing():
            self._set_table(name, df)

    def _update(self, tree: exp.Update, params: Mapping[str, Any] | Sequence[Any] | None) -> None:
        """``UPDATE t SET … [FROM …] [WHERE …]`` as a rewrite of ``t`` (copy-on-write, as Delta does without
        deletion vectors): number t's rows, find each matching row's new values with the UPDATE's own FROM
        and WHERE, and write t again with those values where a row matched. A row matched by several FROM
        rows takes one of them, as in DuckDB (the caller makes matches unique)."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
        name = check_identifier(tree.this.name)
        alias = tree.this.alias_or_name
        table = self._target_frame(name)
        base = table.withColumn("__rid", F.monotonically_increasing_id()).localCheckpoint(
            eager=True, storageLevel=StorageLevel.DISK_ONLY)
        base.createOrReplaceTempView("__update_base")
        sets = [(eq.this.name, eq.expression) for eq in tree.expressions]
        unknown = [c for c, _ in sets if c not in table.columns]
        if unknown:
            raise ChainlightError(f"UPDATE {name}: no column {', '.join(unknown)}")
        source = tree.args.get("from_") or tree.args.get("from")
        where = tree.args.get("where")
        values = ", ".join(f"{value.sql('duckdb')} AS __set{i}" for i, (_, value) in enumerate(sets))
        matched = self._df(sqlglot.parse_one(
            f"SELECT {alias}.__rid, {values} FROM __update_base AS {alias}"
            + (f", {source.this.sql('duckdb')}" if source is not None else "")
            + (f" WHERE {where.this.sql('duckdb')}" if where is not None else ""), read="duckdb"), params)
        found = matched.groupBy("__rid").agg(*[F.first(f"__set{i}").alias(f"__set{i}") for i in range(len(sets))])
        position = {column: i for i, (column, _) in enumerate(sets)}
        joined = base.join(found.withColumnRenamed("__rid", "__hit"), F.col("__rid") == F.col("__hit"), "left")
        result = joined.select([
            (F.when(F.col("__hit").isNull(), F.col(f"`{c}`"))
             .otherwise(F.col(f"__set{position[c]}").cast(table.schema[c].dataType)) if c in position
             else F.col(f"`{c}`")).alias(c) for c in table.columns])
        if name in self._temp:
            self._set_temp(name, result)
        else:
            with self._changing():
                self._set_table(name, result)
        self.spark.catalog.dropTempView("__update_base")

    def _query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> pa.Table:
        table: pa.Table = self._df(sqlglot.parse_one(sql, read="duckdb"), params).toArrow()
        return table

    def _map_batches(self, name: str, sql: str, fn: BatchFunction, schema: pa.Schema,
                     params: Mapping[str, Any] | None, group_by: list[str]) -> None:
        """``mapInArrow`` (or ``groupBy(…).applyInArrow``) on the executors; the result is checkpointed
        there as a temporary table, like any other."""
        from pyspark.sql.pandas.types import from_arrow_schema
        frame = self._df(sqlglot.parse_one(sql, read="duckdb"), params)
        spark_schema = from_arrow_schema(schema)
        if group_by:
            def per_group(group: pa.Table) -> pa.Table:  # type hints: PySpark 4.1 reads the call form from them
                return _apply_group(fn, schema, group)
            out = frame.groupBy(*group_by).applyInArrow(per_group, spark_schema)
        else:
            out = frame.mapInArrow(partial(_apply_batches, fn, schema), spark_schema)
        self._set_temp(name, out)

    def _shareable(self, name: str, sql: str, params: Mapping[str, Any] | None, key: str) -> TableRef:
        """The result written by the executors as Parquet under ``<warehouse>/shared``, which block functions
        read with pyarrow on the executors: only the folder's path and the schema pass through the driver.
        The warehouse is a file system every executor mounts (see the module notes)."""
        if self.read_only:
            raise ChainlightError("the workspace is open read-only")
        from pyspark.sql.pandas.types import to_arrow_schema
        frame = self._df(sqlglot.parse_one(sql, read="duckdb"), params)
        folder = self.warehouse / SHARED / f"{name}-{uuid.uuid4().hex[:12]}"
        self._write(frame, folder)
        replaced = self._shared.pop(name, None)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
        self._shared[name] = folder
        return ParquetRef(key, str(folder), to_arrow_schema(frame.schema))

    # -- the rest of the interface --------------------------------------------------------------------
    def write_arrow(self, name: str, data: pa.Table, *, replace: bool = True) -> None:
        check_identifier(name)
        if not replace and (name in self._catalog["tables"] or name in self._catalog["views"]):
            raise ChainlightError(f"table {name} already exists")
        with self._changing():
            self._set_table(name, self._frame(data))

    def write_parquet(self, name: str, folder: Path) -> None:
        check_identifier(name)
        with self._changing():
            self._set_table(name, self.spark.read.parquet(str(folder)))

    def _frame(self, data: pa.Table) -> Any:
        if data.num_rows == 0:  # Spark cannot infer from no rows: give the schema
            from pyspark.sql.pandas.types import from_arrow_schema
            return self.spark.createDataFrame([], from_arrow_schema(data.schema))
        return self.spark.createDataFrame(data)

    def register_arrow(self, name: str, data: pa.Table) -> None:
        self._frame(data).createOrReplaceTempView(check_identifier(name))

    def table_exists(self, name: str) -> bool:
        return name in self._catalog["tables"] or name in self._catalog["views"]

    def columns(self, name: str) -> list[tuple[str, str]]:
        if not self.spark.catalog.tableExists(name):
            return []
        return [(f.name, _duckdb_type(f.dataType)) for f in self.spark.table(name).schema.fields]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Buffer catalog changes and publish them with one manifest swap (or none on error)."""
        before = copy.deepcopy(self._catalog)
        self._tx_depth += 1
        try:
            yield
        except BaseException:
            self._tx_depth -= 1
            self._catalog = before
            self._register_all()
            raise
        self._tx_depth -= 1
        try:
            self._publish(before)
        except BaseException:  # the pointer did not move: neither may this session's view of it
            self._catalog = before
            self._register_all()
            raise

    def close(self) -> None:
        self._temp.clear()
        for folder in self._shared.values():
            shutil.rmtree(folder, ignore_errors=True)
        self._shared.clear()
        for name in self.spark.catalog.listTables():
            if name.isTemporary:
                self.spark.catalog.dropTempView(name.name)
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _apply_batches(fn: BatchFunction, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Runs on an executor: a block function over one partition's batches."""
    for batch in batches:
        yield conform(fn(batch), schema)


def _apply_group(fn: BatchFunction, schema: pa.Schema, group: pa.Table) -> pa.Table:
    """Runs on an executor: a block function over one group's rows."""
    return pa.Table.from_batches([conform(fn(one_batch(group)), schema)], schema=schema)


def _param(value: Any) -> Any:
    """Spark binds lists as arrays and everything else as literals."""
    if isinstance(value, tuple):
        return list(value)
    return value


def _duckdb_type(data_type: Any) -> str:
    kind = type(data_type).__name__
    if kind == "DecimalType":
        return f"DECIMAL({data_type.precision},{data_type.scale})"
    return _SPARK_TYPES.get(kind, data_type.simpleString().upper())
