"""Open one input file as a relation of text columns, whatever its format and encoding.

Every column is read as text so that type problems become per-row quarantine reasons instead of a
failed file. CSV goes through the engine's reader (structurally broken lines become rejects with their
line numbers); GBK/GB18030 CSV is transcoded to UTF-8 first; JSONL is parsed line by line so a
malformed line is quarantined, not lost.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from chainlight.engine import Engine
from chainlight.errors import InputError

log = logging.getLogger(__name__)

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
SAMPLE_BYTES = 1 << 20
JSONL_VIEW = "_ingest_jsonl"

Reject = tuple[int, str, str]  # (file data row, reason, raw text)


@dataclass
class Source:
    """A file opened as a relation: ``sql`` (with ``params``) yields its rows in file order as text."""

    sql: str
    params: dict[str, str]
    columns: list[str]
    format: str
    encoding: str
    rejects: list[Reject] = field(default_factory=list)
    collect_rejects: Callable[[Engine], list[Reject]] | None = None  # rejects known only after reading
    cleanup: Callable[[], None] = lambda: None


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise InputError(f"unsupported file type {suffix or '(none)'}; use .csv, .tsv, .parquet or .jsonl", file=str(path))


def detect_encoding(path: Path) -> str:
    """'utf-8' or 'gb18030' (a superset of GBK) from the first MiB; anything else is an error."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
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


def normalise_columns(names: list[str], path: Path) -> list[str]:
    cleaned = [n.strip().lstrip("\ufeff").lower() for n in names]
    if any(not n for n in cleaned):
        raise InputError("header has an empty column name", file=str(path))
    dupes = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if dupes:
        raise InputError(f"header repeats column(s) {', '.join(dupes)}", file=str(path))
    return cleaned


def read_header(path: Path, delimiter: str) -> list[str]:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        head = handle.read(SAMPLE_BYTES)
    try:
        header = next(csv.reader(io.StringIO(head), delimiter=delimiter))
    except StopIteration as exc:
        raise InputError("file is empty (no header line)", file=str(path)) from exc
    return normalise_columns(header, path)


def open_csv(engine: Engine, path: Path, tmp_dir: Path, *, force_encoding: str | None = None) -> Source:
    delimiter = CSV_SUFFIXES[path.suffix.lower()]
    encoding = force_encoding or detect_encoding(path)
    readable = path if encoding == "utf-8" else transcode_to_utf8(path, encoding, tmp_dir)
    columns = read_header(readable, delimiter)
    for table in ("reject_errors", "reject_scans"):  # the reader appends to these; start each file empty
        engine.execute(f"DROP TABLE IF EXISTS {table}")

    def collect(engine: Engine) -> list[Reject]:
        rows = engine.query(
            "SELECT line - 1 AS row, string_agg(DISTINCT lower(CAST(error_type AS VARCHAR)), '; ') AS reason, "
            "any_value(csv_line) AS raw FROM reject_errors GROUP BY line ORDER BY line").to_pylist()
        return [(int(r["row"]), f"malformed CSV line: {r['reason']}", r["raw"] or "") for r in rows]

    def cleanup() -> None:
        if readable is not path:
            readable.unlink(missing_ok=True)

    return Source(engine.dialect.csv_source(columns, delimiter), {"path": str(readable)}, columns, "csv",
                  "utf-8" if encoding == "utf-8" else "gbk", collect_rejects=collect, cleanup=cleanup)


def open_parquet(engine: Engine, path: Path) -> Source:
    try:
        raw_names = list(pq.read_schema(path).names)
    except Exception as exc:
        raise InputError(f"not a readable Parquet file ({type(exc).__name__})", file=str(path)) from exc
    columns = normalise_columns(raw_names, path)
    return Source(engine.dialect.parquet_source(list(zip(raw_names, columns, strict=True))), {"path": str(path)},
                  columns, "parquet", "binary")


def open_jsonl(engine: Engine, path: Path) -> Source:
    encoding = detect_encoding(path)
    records: list[dict[str, str | None]] = []
    rejects: list[Reject] = []
    columns: dict[str, None] = {}
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
            columns.update(dict.fromkeys(record))
            records.append(record)
    if not records and not rejects:
        raise InputError("file is empty", file=str(path))
    engine.register_arrow(JSONL_VIEW, pa.table(
        {c: pa.array([r.get(c) for r in records], pa.string()) for c in columns} or {"_": pa.array([], pa.string())}))
    return Source(JSONL_VIEW, {}, list(columns), "jsonl", "utf-8" if encoding == "utf-8" else "gbk", rejects=rejects)


def _to_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def open_source(engine: Engine, path: Path, tmp_dir: Path) -> Source:
    kind = file_format(path)
    if kind == "csv":
        return open_csv(engine, path, tmp_dir)
    if kind == "parquet":
        return open_parquet(engine, path)
    return open_jsonl(engine, path)
