"""Stage ``ingest``: a user's files → the input tables of the data contract, or ``quarantine``.

Reads CSV (UTF-8 with or without BOM, GBK/GB18030; detected), TSV, Parquet and JSONL files, each named
after its table (``invoices.csv``, ``invoices.2024.parquet``). Writes the input tables, ``quarantine``
(file, row, field, reason, raw record) and ``ingest_files`` (row accounting per file).

Storage: each file's checked rows live in one table of their own; the input tables and ``quarantine``
are views over them (see ``storage``), so loading a file writes its data once.

Guarantees: every input row is loaded or quarantined with a reason (``rows_in = rows_loaded +
rows_quarantined`` per file, asserted); a file that cannot be read at all (unknown table, wrong
format, missing required column, undecodable text) raises one InputError naming it and loads nothing;
each file is swapped in by one transaction that first removes what the same file loaded before, so
re-ingesting is idempotent. Extra columns are accepted and ignored (they stay in quarantined records).
Duplicate keys are quarantined: within a file the first occurrence wins; across files the earlier
loaded file wins. References between tables (an invoice's seller in ``enterprises``) are not checked
here: files may arrive in any order, and ``resolve`` reports what does not link.
"""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from chainlight import tables
from chainlight.config import Config
from chainlight.engine.base import sql_literal
from chainlight.errors import ChainlightError, InputError, StageError
from chainlight.ingest import storage
from chainlight.ingest.checks import distinct_value_checks, stored_record, validation_select
from chainlight.ingest.readers import Reject, Source, detect_encoding, first_non_ascii, open_csv, open_source
from chainlight.workspace import Workspace, new_run_id

log = logging.getLogger(__name__)

#: Engines run ingest with their CSV reader's rejects and UPDATE (duplicates are marked in place); no
#: whole table comes into Python, so it runs on Spark too.
ENGINE_NEEDS: frozenset[str] = frozenset({"supports_csv_rejects", "supports_update"})

SUPPORTED_SUFFIXES = {".csv", ".tsv", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson", ".json"}


@dataclass
class FileResult:
    file: str
    table: str | None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    format: str | None = None
    encoding: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class IngestReport:
    run_id: str
    files: list[FileResult]

    @property
    def errors(self) -> list[FileResult]:
        return [f for f in self.files if f.error]

    def totals(self) -> dict[str, int]:
        return {k: sum(getattr(f, k) for f in self.files) for k in ("rows_in", "rows_loaded", "rows_quarantined")}


def table_for(path: Path) -> str:
    """The input table a file belongs to, from its name (``invoices.csv``, ``invoices.2024-q1.csv``) or, for a
    part file of a partitioned table, its folder's (``invoices/part-00000.parquet``)."""
    stem = path.name.split(".")[0].lower()
    for name in tables.INPUT_TABLES:
        if stem == name or stem.startswith((name + "_", name + "-")):
            return name
    if path.parent.name.lower() in tables.INPUT_TABLES:  # a part of a partitioned table: invoices/part-00000.parquet
        return path.parent.name.lower()
    raise InputError(f"file name does not name an input table ({', '.join(tables.INPUT_TABLES)})", file=str(path))


def expand(paths: list[Path]) -> list[tuple[Path, InputError | None]]:
    """Files given directly, plus the supported files inside given folders and inside their subfolders named
    after an input table (a partitioned table, ``invoices/part-*.parquet``, as Spark writes it); no other
    subfolder is read (truth/).

    A path that cannot be a file to read (missing, a broken link, a FIFO or device) comes back with its
    error, so the call still loads every other file and the problem is named.
    """
    found: list[tuple[Path, InputError | None]] = []
    for path in paths:
        if path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.is_dir() and entry.name.lower() in tables.INPUT_TABLES:
                    found.extend((part, _not_a_file(part)) for part in sorted(entry.iterdir())
                                 if part.suffix.lower() in SUPPORTED_SUFFIXES and not part.is_dir())
                elif entry.suffix.lower() in SUPPORTED_SUFFIXES and not entry.is_dir():
                    found.append((entry, _not_a_file(entry)))
        else:
            found.append((path, _not_a_file(path)))
    return found


def _not_a_file(path: Path) -> InputError | None:
    """Why ``path`` is not a regular file to read, or None. A FIFO would block a reader for ever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        reason = "broken symbolic link (its target is missing)" if path.is_symlink() else "no such file or folder"
        return InputError(reason, file=str(path))
    except OSError as exc:
        return InputError(f"cannot read: {exc.strerror or exc}", file=str(path))
    if not stat.S_ISREG(mode):
        return InputError("not a regular file (a FIFO, socket or device); give a file or a folder", file=str(path))
    return None


def run(ws: Workspace, cfg: Config, paths: list[Path],
        progress: Callable[[FileResult], None] | None = None) -> IngestReport:
    """Ingest every file; a broken file is reported in its FileResult and does not stop the others."""
    run_id = new_run_id("ingest")
    started = datetime.now(UTC)
    results = []
    for path, problem in expand(paths):
        try:
            if problem:
                raise problem
            result = ingest_file(ws, cfg, path, run_id)
        except (ChainlightError, OSError) as exc:
            result = _failed(path, exc)
        except Exception as exc:  # a reader's own bug: still name the file and go on with the others
            log.debug("unexpected failure on %s", path, exc_info=True)
            result = _failed(path, InputError(f"unexpected failure ({type(exc).__name__}: {exc})", file=str(path)))
        results.append(result)
        if progress:
            progress(result)
    report = IngestReport(run_id, results)
    ws.record_run(run_id, "ingest", "ok" if not report.errors else "partial", started,
                  {**report.totals(), "files": [asdict(r) for r in results]})
    return report


def _failed(path: Path, exc: Exception) -> FileResult:
    """The FileResult of a file not loaded, logged as one WARNING line naming it."""
    if isinstance(exc, OSError):
        exc = InputError(f"cannot read: {exc.strerror or exc}", file=str(path))
    message = " ".join(str(exc).split())[:2000]
    if str(path) not in message:
        message = f"{path}: {message}"
    log.warning("ingest failed: %s", message)
    return FileResult(file=str(path), table=None, error=message)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)  # releases the GIL: runs beside the engine's read
    return digest.hexdigest()


def ingest_file(ws: Workspace, cfg: Config, path: Path, run_id: str) -> FileResult:
    table = table_for(path)
    spec = tables.INPUT_TABLES[table]
    engine = ws.engine
    file_key = str(path.resolve())
    target = storage.storage_table(table, file_key)
    staging = f"{target}__new"
    tmp_dir = ws.root / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=1) as pool:
        content_hash = pool.submit(_sha256, path)
        source = open_source(engine, path, tmp_dir)
        try:
            missing = [c for c in spec.column_names if c not in source.columns]
            if missing:
                raise InputError(f"missing required column(s) {', '.join(missing)} for table {table}", file=str(path))
            source = _materialise_checked(ws, cfg, spec, source, path, tmp_dir, staging)
            row_of = _row_numbering(ws, source.rejects)
            _mark_duplicates(ws, spec, staging, file_key, row_of)
            return _publish(ws, spec, source, staging, target, path, file_key, run_id, content_hash.result())
        except BaseException:
            engine.execute(f"DROP TABLE IF EXISTS {staging}")
            raise
        finally:
            source.cleanup()


def _materialise_checked(ws: Workspace, cfg: Config, spec: tables.TableSpec, source: Source, path: Path,
                         tmp_dir: Path, staging: str) -> Source:
    """Run the checks in one pass into the file's new table; a UTF-8 CSV with GBK further down is retried."""
    def build(src: Source) -> Source:
        select = validation_select(spec, src.sql, src.columns, ws.engine.dialect, cfg.ingest)
        ws.engine.execute(f"CREATE OR REPLACE TABLE {staging} AS {select}", src.params, table=spec.name)
        for distinct, find_bad, quarantine_bad in distinct_value_checks(spec, staging, ws.engine.dialect, cfg.ingest):
            ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE _ingest_values AS {distinct}", table=spec.name)
            ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE _ingest_bad_values AS {find_bad}", table=spec.name)
            if ws.engine.scalar("SELECT count(*) FROM _ingest_bad_values"):
                ws.engine.execute(quarantine_bad, table=spec.name)
        if src.collect_rejects:
            src.rejects = src.collect_rejects(ws.engine)
            src.collect_rejects = None
        return src

    def unreadable(src: Source, exc: StageError) -> InputError:
        return InputError(f"cannot read {src.format}: {str(exc).splitlines()[0][:300]}", file=str(path))

    try:
        source = build(source)
        unicode_trouble = any("invalid encoding" in reason or "unicode" in reason for _, reason, _ in source.rejects)
        failure: StageError | None = None
    except StageError as exc:
        unicode_trouble, failure = "unicode" in str(exc).lower(), exc
    if unicode_trouble and source.format == "csv" and source.encoding == "utf-8" and \
            detect_encoding(path, first_non_ascii(path)) != "utf-8":
        # The first MiB looked like UTF-8 (plain ASCII), the text further down is GBK: read it all as GBK.
        # A UTF-8 file with a few bad bytes stays UTF-8: the reader has quarantined the rows holding them.
        source.cleanup()
        retry = open_csv(ws.engine, path, tmp_dir, force_encoding="gb18030")
        try:
            return build(retry)
        except BaseException as exc:
            retry.cleanup()  # the caller cleans up only the source it gets back
            if isinstance(exc, StageError):
                raise unreadable(retry, exc) from exc
            raise
    if failure is not None:
        raise unreadable(source, failure) from failure
    return source


def _row_gaps(rejects: list[Reject]) -> list[int]:
    """The reader numbers only records it parsed; a rejected line shifts every later record by one.

    With rejects at rows r_1 < r_2 < …, the k-th parsed record sits at row k + #{j : r_j − j < k}.
    """
    return [row - j for j, (row, _, _) in enumerate(sorted(rejects), start=1)]


def _row_numbering(ws: Workspace, rejects: list[Reject]) -> Callable[[str], str]:
    """SQL for the file data-row number of the record at a given ordinal (before publishing)."""
    if not rejects:
        return lambda ordinal: ordinal
    ws.engine.write_arrow("_ingest_gaps", pa.table({"gap": pa.array(_row_gaps(rejects), pa.int64())}))
    return lambda ordinal: f"({ordinal} + (SELECT count(*) FROM _ingest_gaps g WHERE g.gap < {ordinal}))"


def _mark_duplicates(ws: Workspace, spec: tables.TableSpec, staging: str, file_key: str,
                     row_of: Callable[[str], str]) -> None:
    """Quarantine repeated keys: keys another file already loaded, then later rows of the same key."""
    engine = ws.engine
    ordinal = engine.dialect.row_ordinal(staging)
    keys = ", ".join(f'"{k}"' for k in spec.key)
    match = " AND ".join(f'd."{k}" = {staging}."{k}"' for k in spec.key)
    label = "+".join(spec.key)
    record = stored_record(spec, staging, engine.dialect)
    if engine.scalar(f"SELECT count(*) FROM {spec.name} WHERE _file <> $file", {"file": file_key}):
        engine.execute(
            f"""UPDATE {staging} SET _field = '{label}', _record = {record},
                   _reason = '{_loaded_elsewhere(spec)}' || d._file
            FROM (SELECT {keys}, min(_file) AS _file FROM {spec.name} WHERE _file <> $file GROUP BY {keys}) d
            WHERE {match} AND {staging}._reason IS NULL""", {"file": file_key}, table=spec.name)
    engine.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ingest_dups AS
        SELECT {keys}, min(_ordinal) AS first_ordinal FROM (SELECT {keys}, {ordinal} AS _ordinal
            FROM {staging} WHERE _reason IS NULL) k GROUP BY {keys} HAVING count(*) > 1""", table=spec.name)
    if engine.scalar("SELECT count(*) FROM _ingest_dups"):
        engine.execute(
            f"""UPDATE {staging} SET _field = '{label}', _record = {record},
                   _reason = 'duplicate {label}: first seen at row ' || CAST({row_of('d.first_ordinal')} AS VARCHAR)
            FROM _ingest_dups d
            WHERE {match} AND {staging}._reason IS NULL AND {ordinal} <> d.first_ordinal""", table=spec.name)
    engine.execute("DROP TABLE _ingest_dups")


def _publish(ws: Workspace, spec: tables.TableSpec, source: Source, staging: str, target: str, path: Path,
             file_key: str, run_id: str, sha: str) -> FileResult:
    """Swap this file's table in: one transaction replaces its previous table, rejects and views."""
    engine = ws.engine
    rejects = source.rejects
    counts = engine.query(f"SELECT count(*) FILTER (WHERE _reason IS NULL) AS good, "
                          f"count(*) FILTER (WHERE _reason IS NOT NULL) AS bad FROM {staging}").to_pylist()[0]
    result = FileResult(file=str(path), table=spec.name, rows_in=counts["good"] + counts["bad"] + len(rejects),
                        rows_loaded=counts["good"], rows_quarantined=counts["bad"] + len(rejects),
                        format=source.format, encoding=source.encoding,
                        ignored_columns=[c for c in source.columns if c not in spec.column_names])
    if result.rows_in != result.rows_loaded + result.rows_quarantined:  # the promise, checked every time
        raise StageError(f"row accounting broken for {path}", stage="ingest", table=spec.name)
    params = {"file": file_key, "table": spec.name}
    with engine.transaction():
        engine.execute(f"DROP TABLE IF EXISTS {target}", table=target)
        engine.execute(f"ALTER TABLE {staging} RENAME TO {target}", table=target)
        for bookkeeping in ("ingest_rejects", "ingest_row_gaps", "ingest_files"):
            engine.execute(f"DELETE FROM {bookkeeping} WHERE file = $file", {"file": file_key}, table=bookkeeping)
        if rejects:
            engine.register_arrow("_ingest_rejects", pa.table({
                "row": pa.array([r[0] for r in rejects], pa.int64()), "reason": [r[1] for r in rejects],
                "raw": [r[2] for r in rejects], "gap": pa.array(_row_gaps(rejects), pa.int64())}))
            engine.execute("INSERT INTO ingest_rejects SELECT $file, $table, row, reason, raw FROM _ingest_rejects",
                           params, table="ingest_rejects")
            engine.execute("INSERT INTO ingest_row_gaps SELECT $file, gap FROM _ingest_rejects",
                           {"file": file_key}, table="ingest_row_gaps")
        engine.execute("INSERT INTO ingest_files VALUES ($file, $table, $sha, $format, $encoding, $rows_in, "
                       "$rows_loaded, $rows_quarantined, $run, $storage)",
                       {**params, "sha": sha, "format": source.format, "encoding": source.encoding,
                        "rows_in": result.rows_in, "rows_loaded": result.rows_loaded,
                        "rows_quarantined": result.rows_quarantined, "run": run_id, "storage": target},
                       table="ingest_files")
        storage.refresh_views(engine)
        _release_orphaned_duplicates(ws, spec, file_key)
    return result


def _loaded_elsewhere(spec: tables.TableSpec) -> str:
    """The start of the reason of a row whose key another file loaded (followed by that file)."""
    return f"duplicate {'+'.join(spec.key)}: already loaded from "


def _release_orphaned_duplicates(ws: Workspace, spec: tables.TableSpec, file_key: str) -> None:
    """Rows other files hold as "already loaded from …" whose key is now loaded nowhere (the file that
    had it was re-ingested without it) are loaded again: per key, the first row of the first file (by
    path) that holds it; its other rows are duplicates of that one. Runs inside the publishing
    transaction, so the key is never lost nor loaded twice."""
    engine = ws.engine
    prefix = _loaded_elsewhere(spec)
    keys = ", ".join(f'"{k}"' for k in spec.key)
    files = [f for f in engine.query(
        "SELECT f.file, f.storage_table, EXISTS (SELECT 1 FROM ingest_row_gaps g WHERE g.file = f.file) AS has_gaps "
        "FROM ingest_files f WHERE f.table_name = $t AND f.file <> $f ORDER BY f.file",
        {"t": spec.name, "f": file_key}).to_pylist()
        if engine.scalar(f"SELECT count(*) FROM {f['storage_table']} WHERE substr(_reason, 1, {len(prefix)}) = $p",
                         {"p": prefix})]
    if not files:
        return
    held = " UNION ALL ".join(
        f"SELECT {keys}, {sql_literal(f['file'])} AS _file, {engine.dialect.row_ordinal(f['storage_table'])} AS _ordinal "
        f"FROM {f['storage_table']} WHERE substr(_reason, 1, {len(prefix)}) = $p" for f in files)
    loaded = " AND ".join(f'l."{k}" = h."{k}"' for k in spec.key)
    engine.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ingest_orphans AS
        SELECT {keys}, _file, _ordinal, row_number() OVER (PARTITION BY {keys} ORDER BY _file, _ordinal) AS _rank
        FROM ({held}) h WHERE NOT EXISTS (SELECT 1 FROM {spec.name} l WHERE {loaded})""", {"p": prefix}, table=spec.name)
    if engine.scalar("SELECT count(*) FROM _ingest_orphans"):
        winner = " AND ".join([*(f'w."{k}" = o."{k}"' for k in spec.key), "w._rank = 1"])
        for f in files:
            table, ordinal = f["storage_table"], engine.dialect.row_ordinal(f["storage_table"])
            match = " AND ".join(f'o."{k}" = {table}."{k}"' for k in spec.key)
            first_row = storage.row_number_sql("w._ordinal", f["file"], f["has_gaps"])
            engine.execute(
                f"""UPDATE {table} SET _field = CASE WHEN o._rank = 1 THEN NULL ELSE _field END,
                       _record = CASE WHEN o._rank = 1 THEN NULL ELSE _record END,
                       _reason = CASE WHEN o._rank = 1 THEN NULL
                           WHEN w._file = $file THEN $seen || CAST({first_row} AS VARCHAR)
                           ELSE $prefix || w._file END
                FROM _ingest_orphans o JOIN _ingest_orphans w ON {winner}
                WHERE o._file = $file AND o._ordinal = {ordinal} AND {match}""",
                {"file": f["file"], "prefix": prefix, "seen": f"duplicate {'+'.join(spec.key)}: first seen at row "},
                table=table)
            engine.execute(
                f"""UPDATE ingest_files SET rows_loaded = (SELECT count(*) FROM {table} WHERE _reason IS NULL),
                       rows_quarantined = rows_in - (SELECT count(*) FROM {table} WHERE _reason IS NULL)
                WHERE file = $file""", {"file": f["file"]}, table="ingest_files")
    engine.execute("DROP TABLE _ingest_orphans")
