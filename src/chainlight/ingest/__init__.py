"""Stage ``ingest``: a user's files → the input tables of the data contract, or ``quarantine``.

Reads CSV (UTF-8 with or without BOM, GBK/GB18030; detected), TSV, Parquet and JSONL files, each named
after its table (``invoices.csv``, ``invoices.2024.parquet``). Writes the input tables, ``quarantine``
(file, row, field, reason, raw record) and ``ingest_files`` (row accounting per file).

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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from chainlight import tables
from chainlight.config import Config
from chainlight.errors import ChainlightError, InputError, StageError
from chainlight.ingest.checks import validation_select
from chainlight.ingest.readers import RAW, Staged, stage_file
from chainlight.workspace import Workspace, new_run_id

log = logging.getLogger(__name__)

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
    """The input table a file belongs to, from its name (``invoices.csv``, ``invoices.2024-q1.csv``)."""
    stem = path.name.split(".")[0].lower()
    for name in tables.INPUT_TABLES:
        if stem == name or stem.startswith((name + "_", name + "-")):
            return name
    raise InputError(f"file name does not name an input table ({', '.join(tables.INPUT_TABLES)})", file=str(path))


def expand(paths: list[Path]) -> list[Path]:
    """Files given directly, plus the supported files inside given folders (not recursing into truth/)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise InputError("no such file or folder", file=str(path))
    return found


def run(ws: Workspace, cfg: Config, paths: list[Path],
        progress: Callable[[FileResult], None] | None = None) -> IngestReport:
    """Ingest every file; a broken file is reported in its FileResult and does not stop the others."""
    run_id = new_run_id("ingest")
    started = datetime.now(UTC)
    results = []
    for path in expand(paths):
        try:
            result = ingest_file(ws, cfg, path, run_id)
        except ChainlightError as exc:
            result = FileResult(file=str(path), table=None, error=str(exc))
            log.warning("ingest failed: %s", exc)
        results.append(result)
        if progress:
            progress(result)
    report = IngestReport(run_id, results)
    ws.record_run(run_id, "ingest", "ok" if not report.errors else "partial", started,
                  {**report.totals(), "files": [asdict(r) for r in results]})
    return report


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_file(ws: Workspace, cfg: Config, path: Path, run_id: str) -> FileResult:
    table = table_for(path)
    spec = tables.INPUT_TABLES[table]
    engine = ws.engine
    file_key = str(path.resolve())
    tmp_dir = ws.root / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    staged = stage_file(engine, path, tmp_dir)
    missing = [c for c in spec.column_names if c not in staged.columns]
    if missing:
        raise InputError(f"missing required column(s) {', '.join(missing)} for table {table}", file=str(path))
    _number_rows(ws, staged)
    engine.execute("CREATE OR REPLACE TEMP TABLE _ingest_checked AS "
                   + validation_select(spec, engine.dialect, cfg.ingest), table=table)
    _mark_duplicates(ws, spec, file_key)

    loaded = int(engine.scalar("SELECT count(*) FROM _ingest_checked WHERE _reason IS NULL"))
    bad = int(engine.scalar("SELECT count(*) FROM _ingest_checked WHERE _reason IS NOT NULL"))
    result = FileResult(file=str(path), table=table, rows_in=staged.rows + len(staged.rejects),
                        rows_loaded=loaded, rows_quarantined=bad + len(staged.rejects), format=staged.format,
                        encoding=staged.encoding,
                        ignored_columns=[c for c in staged.columns if c not in spec.column_names])
    if result.rows_in != result.rows_loaded + result.rows_quarantined:  # the promise, checked every time
        raise StageError(f"row accounting broken for {path}: {result}", stage="ingest", table=table)

    columns = ", ".join(f'"{c}"' for c in spec.column_names)
    record = engine.dialect.json_record(staged.columns, "t")
    with engine.transaction():
        engine.execute(f"DELETE FROM {table} WHERE _file = $file", {"file": file_key}, table=table)
        engine.execute("DELETE FROM quarantine WHERE file = $file", {"file": file_key}, table="quarantine")
        engine.execute("DELETE FROM ingest_files WHERE file = $file", {"file": file_key}, table="ingest_files")
        engine.execute(f"INSERT INTO {table} ({columns}, _file, _row) SELECT {columns}, $file, _row "
                       "FROM _ingest_checked WHERE _reason IS NULL ORDER BY _ord", {"file": file_key}, table=table)
        engine.execute(
            f"INSERT INTO quarantine SELECT $run, $table, $file, c._row, c._field, c._reason, {record} "
            f"FROM _ingest_checked c JOIN {RAW} t ON t._ord = c._ord WHERE c._reason IS NOT NULL ORDER BY c._row",
            {"run": run_id, "table": table, "file": file_key}, table="quarantine")
        if staged.rejects:
            engine.register_arrow("_ingest_rejects_rows", pa.table({
                "row": pa.array([r[0] for r in staged.rejects], pa.int64()),
                "reason": [r[1] for r in staged.rejects], "raw": [r[2] for r in staged.rejects]}))
            engine.execute("INSERT INTO quarantine SELECT $run, $table, $file, row, NULL, reason, raw "
                           "FROM _ingest_rejects_rows", {"run": run_id, "table": table, "file": file_key},
                           table="quarantine")
        engine.execute("INSERT INTO ingest_files VALUES ($file, $table, $sha, $format, $encoding, $rows_in, "
                       "$rows_loaded, $rows_quarantined, $run)",
                       {"file": file_key, "table": table, "sha": _sha256(path), "format": staged.format,
                        "encoding": staged.encoding, "rows_in": result.rows_in, "rows_loaded": loaded,
                        "rows_quarantined": result.rows_quarantined, "run": run_id}, table="ingest_files")
    for temp in (RAW, "_ingest_checked"):
        engine.execute(f"DROP TABLE IF EXISTS {temp}")
    return result


def _number_rows(ws: Workspace, staged: Staged) -> None:
    """Add ``_row``, the file's data-row number, to the staged table.

    The CSV reader numbers only the records it parsed; a rejected line shifts every later record by one.
    With rejects at rows r_1 < r_2 < …, the k-th parsed record sits at row k + #{j : r_j − j < k}.
    """
    engine = ws.engine
    if staged.ordinal_is_row or not staged.rejects:
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {RAW}_n AS SELECT _ord AS _row, * FROM {RAW}")
    else:
        gaps = [row - j for j, (row, _, _) in enumerate(staged.rejects, start=1)]
        engine.register_arrow("_ingest_gaps", pa.table({"gap": pa.array(gaps, pa.int64())}))
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {RAW}_n AS SELECT _ord + "
                       f"(SELECT count(*) FROM _ingest_gaps g WHERE g.gap < r._ord) AS _row, r.* FROM {RAW} r")
    engine.execute(f"DROP TABLE {RAW}")
    engine.execute(f"ALTER TABLE {RAW}_n RENAME TO {RAW}")


def _mark_duplicates(ws: Workspace, spec: tables.TableSpec, file_key: str) -> None:
    """Quarantine repeated keys: later rows of the same file, and keys another file already loaded."""
    if not spec.key:
        return
    keys = ", ".join(f'"{k}"' for k in spec.key)
    on = " AND ".join(f'e."{k}" = c."{k}"' for k in spec.key)
    label = "+".join(spec.key)
    ws.engine.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ingest_dups AS
        SELECT c._ord,
               min(c._row) OVER (PARTITION BY {', '.join(f'c."{k}"' for k in spec.key)}) AS first_row,
               e._file AS other_file
        FROM _ingest_checked c
        LEFT JOIN (SELECT DISTINCT {keys}, _file FROM {spec.name} WHERE _file <> $file) e ON {on}
        WHERE c._reason IS NULL""", {"file": file_key}, table=spec.name)
    ws.engine.execute(
        f"""UPDATE _ingest_checked SET _field = '{label}',
               _reason = CASE WHEN d.other_file IS NOT NULL
                              THEN 'duplicate {label}: already loaded from ' || d.other_file
                              ELSE 'duplicate {label}: first seen at row ' || CAST(d.first_row AS VARCHAR) END
        FROM _ingest_dups d
        WHERE _ingest_checked._ord = d._ord AND (d.other_file IS NOT NULL OR d.first_row <> _ingest_checked._row)""",
        table=spec.name)
    ws.engine.execute("DROP TABLE _ingest_dups")
