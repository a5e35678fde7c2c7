"""Read one input file into a staging table of text columns, whatever its format and encoding.

Every column is staged as text so that type problems become per-row quarantine reasons instead of a
failed file. CSV goes through DuckDB's reader (structurally broken lines are captured as rejects with
their line numbers); GBK/GB18030 CSV is transcoded to UTF-8 first; JSONL is parsed line by line so a
malformed line is quarantined, not lost.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from chainlight.engine import Engine
from chainlight.errors import InputError

log = logging.getLogger(__name__)

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SAMPLE_BYTES = 1 << 20
RAW = "_ingest_raw"


@dataclass
class Staged:
    """A file staged as table ``_ingest_raw`` (``_ord`` = 1-based record order, text columns)."""

    columns: list[str]
    format: str
    encoding: str
    rows: int
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (row, reason, raw text)
    ordinal_is_row: bool = False  # JSONL and Parquet number their records by file row already


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSONL_SUFFIXES or suffix == ".json":
        return "jsonl"
    raise InputError(f"unsupported file type {suffix or '(none)'}; use .csv, .tsv, .parquet or .jsonl", file=str(path))


def detect_encoding(path: Path) -> str:
    """'utf-8' or 'gb18030' (a superset of GBK) from the first MiB; anything else is an error."""
    sample = path.open("rb").read(SAMPLE_BYTES)
    if not sample.strip():
        raise InputError("file is empty (no header line)", file=str(path))
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    raise InputError("text is neither UTF-8 nor GBK/GB18030", file=str(path))


def transcode_to_utf8(path: Path, encoding: str, tmp_dir: Path) -> Path:
    """Stream a GBK file into a UTF-8 temp file for the CSV reader."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    out = Path(tempfile.mkstemp(prefix="ingest-", suffix=".csv", dir=tmp_dir)[1])
    offset = 0
    with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(SAMPLE_BYTES):
            try:
                dst.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                out.unlink(missing_ok=True)
                raise InputError(f"invalid {encoding} byte at offset {offset + exc.start}", file=str(path)) from exc
            offset += len(chunk)
        dst.write(decoder.decode(b"", final=True))
    return out


def read_header(path: Path, delimiter: str) -> list[str]:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        head = handle.read(SAMPLE_BYTES)
    try:
        header = next(csv.reader(io.StringIO(head), delimiter=delimiter))
    except StopIteration as exc:
        raise InputError("file is empty (no header line)", file=str(path)) from exc
    return normalise_columns(header, path)


def normalise_columns(names: list[str], path: Path) -> list[str]:
    cleaned = [n.strip().lstrip("\ufeff").lower() for n in names]
    if any(not n for n in cleaned):
        raise InputError("header has an empty column name", file=str(path))
    dupes = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if dupes:
        raise InputError(f"header repeats column(s) {', '.join(dupes)}", file=str(path))
    return cleaned


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def stage_csv(engine: Engine, path: Path, tmp_dir: Path) -> Staged:
    delimiter = CSV_SUFFIXES[path.suffix.lower()]
    encoding = detect_encoding(path)
    source = path if encoding == "utf-8" else transcode_to_utf8(path, encoding, tmp_dir)
    try:
        columns = read_header(source, delimiter)
        try:
            return _stage_csv_utf8(engine, source, columns, delimiter, "utf-8" if source is path else "gbk")
        except InputError:
            raise
        except Exception as exc:  # a UTF-8 sample with GBK further down: transcode and retry once
            if source is not path or "unicode" not in str(exc).lower():
                raise InputError(f"cannot parse CSV: {str(exc).splitlines()[0]}", file=str(path)) from exc
            source = transcode_to_utf8(path, "gb18030", tmp_dir)
            return _stage_csv_utf8(engine, source, columns, delimiter, "gbk")
    finally:
        if source is not path:
            source.unlink(missing_ok=True)


def _stage_csv_utf8(engine: Engine, source: Path, columns: list[str], delimiter: str, encoding: str) -> Staged:
    spec = "{" + ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for c in columns) + "}"
    select = ", ".join(_quote(c) for c in columns)
    engine.execute("DROP TABLE IF EXISTS reject_errors")
    engine.execute("DROP TABLE IF EXISTS reject_scans")
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT row_number() OVER () AS _ord, {select} "
        f"FROM read_csv($path, header = true, auto_detect = false, columns = {spec}, delim = $delim, "
        "quote = '\"', escape = '\"', store_rejects = true, rejects_table = 'reject_errors', "
        "rejects_scan = 'reject_scans', max_line_size = 10000000)",
        {"path": str(source), "delim": delimiter})
    rejects = engine.query(
        "SELECT line - 1 AS row, string_agg(DISTINCT error_type, '; ') AS reason, any_value(csv_line) AS raw "
        "FROM reject_errors GROUP BY line ORDER BY line").to_pylist()
    rows = int(engine.scalar(f"SELECT count(*) FROM {RAW}"))
    return Staged(columns, "csv", encoding, rows,
                  [(int(r["row"]), f"malformed CSV line: {r['reason'].lower()}", r["raw"] or "") for r in rejects])


def stage_parquet(engine: Engine, path: Path) -> Staged:
    try:
        schema = pq.read_schema(path)
    except Exception as exc:
        raise InputError(f"not a readable Parquet file ({type(exc).__name__})", file=str(path)) from exc
    raw_names = list(schema.names)
    columns = normalise_columns(raw_names, path)
    select = ", ".join(f"CAST({_quote(r)} AS VARCHAR) AS {_quote(c)}" for r, c in zip(raw_names, columns))
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT CAST(file_row_number + 1 AS BIGINT) AS _ord, {select} "
        "FROM read_parquet($path, file_row_number = true)", {"path": str(path)})
    rows = int(engine.scalar(f"SELECT count(*) FROM {RAW}"))
    return Staged(columns, "parquet", "binary", rows, ordinal_is_row=True)


def stage_jsonl(engine: Engine, path: Path) -> Staged:
    encoding = detect_encoding(path)
    records: list[dict[str, str | None]] = []
    ordinals: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    columns: list[str] = []
    seen: set[str] = set()
    with path.open("r", encoding=encoding, errors="strict") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                rejects.append((number, "blank line", ""))
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                rejects.append((number, f"malformed JSON: {exc.msg}", line[:2000]))
                continue
            if not isinstance(obj, dict):
                rejects.append((number, "JSON line is not an object", line[:2000]))
                continue
            record = {str(k).strip().lower(): _to_text(v) for k, v in obj.items()}
            for key in record:
                if key not in seen:
                    seen.add(key)
                    columns.append(key)
            records.append(record)
            ordinals.append(number)
    if not records and not rejects:
        raise InputError("file is empty", file=str(path))
    data = {"_ord": pa.array(ordinals, pa.int64())}
    for column in columns:
        data[column] = pa.array([r.get(column) for r in records], pa.string())
    engine.register_arrow("_ingest_jsonl", pa.table(data))
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT * FROM _ingest_jsonl")
    return Staged(columns, "jsonl", "utf-8" if encoding == "utf-8" else "gbk", len(records), rejects,
                  ordinal_is_row=True)


def _to_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def stage_file(engine: Engine, path: Path, tmp_dir: Path) -> Staged:
    kind = file_format(path)
    if kind == "csv":
        return stage_csv(engine, path, tmp_dir)
    if kind == "parquet":
        return stage_parquet(engine, path)
    return stage_jsonl(engine, path)
