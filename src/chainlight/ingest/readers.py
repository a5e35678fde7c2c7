"""Open one input file as a relation of text columns, whatever its format and encoding.

Every column is read as text so that type problems become per-row quarantine reasons instead of a
failed file. CSV goes through the engine's reader (structurally broken lines become rejects with their
line numbers); GBK/GB18030 CSV is transcoded to UTF-8 first; JSONL is parsed line by line so a
malformed line is quarantined, not lost.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
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
ENCODINGS = ("utf-8", "gb18030")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_GLOB = re.compile(r"[*?\[\]]")
JSONL_VIEW = "_ingest_jsonl"

Reject = tuple[int, str, str]  # (file data row, reason, raw text)


@dataclass
class Source:
    """A file opened as a relation: ``sql`` (with ``params``) yields its rows in file order as text.

    The relation's columns are named by position (``_c0``, ``_c1``, …, see ``positional``); ``columns``
    holds the file's own (normalised) names in the same order.
    """

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


def _decode_errors(data: bytes, encoding: str) -> int:
    """How many undecodable spots ``data`` has in ``encoding`` (a character cut at the end is not one)."""
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    return decoder.decode(data, final=False).count("\ufffd") - data.count("\ufffd".encode(encoding))


def _choose_encoding(sample: bytes) -> str | None:
    """The encoding that decodes ``sample`` with the fewest errors (UTF-8 on a tie), or None when even
    that one fails on more than a quarter of the non-ASCII bytes: then it is not text in either."""
    non_ascii = len(sample) - len(sample.translate(None, _HIGH_BYTES))
    if not non_ascii:
        return "utf-8"
    errors = {encoding: _decode_errors(sample, encoding) for encoding in ENCODINGS}
    best = min(ENCODINGS, key=lambda e: errors[e])  # min keeps the first (UTF-8) on a tie
    return best if errors[best] * 4 <= non_ascii else None


def first_non_ascii(path: Path) -> int:
    """Offset of the first byte ≥ 0x80 (0 if none): where the encoding shows."""
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(SAMPLE_BYTES):
            found = _NON_ASCII.search(chunk)
            if found:
                return offset + found.start()
            offset += len(chunk)
    return 0


def detect_encoding(path: Path, start: int = 0) -> str:
    """'utf-8' or 'gb18030' (a superset of GBK) from a MiB of bytes at ``start``; anything else is an error.

    A few undecodable bytes do not decide the file: the rows holding them are quarantined later.
    """
    with path.open("rb") as handle:
        handle.seek(start)
        sample = handle.read(SAMPLE_BYTES)
    if start == 0 and not sample.strip():
        raise InputError("file is empty (no header line)", file=str(path))
    if b"\x00" in sample:
        raise InputError(f"binary data (NUL byte at offset {start + sample.index(0)}), not a text file", file=str(path))
    encoding = _choose_encoding(sample)
    if encoding is None:
        raise InputError("text is neither UTF-8 nor GBK/GB18030 (binary data?)", file=str(path))
    return encoding


def transcode_to_utf8(path: Path, encoding: str, tmp_dir: Path) -> Path:
    """Stream a GBK file into a UTF-8 temp file for the CSV reader.

    Undecodable bytes are copied through unchanged (surrogateescape), so they stay invalid UTF-8 and the
    CSV reader quarantines the rows holding them, with their line numbers.
    """
    decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
    out = Path(tempfile.mkstemp(prefix="ingest-", suffix=".csv", dir=tmp_dir)[1])
    with path.open("rb") as src, out.open("w", encoding="utf-8", errors="surrogateescape", newline="") as dst:
        while chunk := src.read(SAMPLE_BYTES):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return out


def normalise_columns(names: list[str], path: Path) -> list[str]:
    cleaned = [normalise_name(n) for n in names]
    if any(not n for n in cleaned):
        raise InputError("header has an empty column name", file=str(path))
    dupes = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if dupes:
        raise InputError(f"header repeats column(s) {', '.join(dupes)} (names are compared without case)", file=str(path))
    return cleaned


def normalise_name(name: str) -> str:
    """Column names are matched without surrounding space, BOM or case: ``Amount`` is ``amount``."""
    return name.strip().lstrip("\ufeff").strip().lower()


def read_header(path: Path, delimiter: str, name: Path | None = None) -> list[str]:
    """The first CSV record (it may span lines inside quotes), decoded strictly: a header must be clean.
    Errors name ``name`` (the user's file when ``path`` is its transcoded copy)."""
    path, readable = name or path, path
    try:
        with readable.open("r", encoding="utf-8-sig", errors="strict", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter))
    except StopIteration as exc:
        raise InputError("file is empty (no header line)", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"header line is not valid text ({exc.reason})", file=str(path)) from exc
    except csv.Error as exc:
        raise InputError(f"header line cannot be read ({exc})", file=str(path)) from exc
    return normalise_columns(header, path)


def positional(count: int) -> list[str]:
    """The relation's column names: ``_c0`` … by position, so no input name can meet an internal one."""
    return [f"_c{i}" for i in range(count)]


def engine_path(path: Path) -> tuple[Path, Callable[[], None]]:
    """A path the engine reads as exactly this file: engines expand ``*``, ``?`` and ``[`` as globs, so a
    name holding them is read through a symbolic link with a plain name."""
    path = path.absolute()
    if not _GLOB.search(str(path)):
        return path, lambda: None
    folder = Path(tempfile.mkdtemp(prefix="chainlight-ingest-"))
    link = folder / f"input{path.suffix.lower()}"
    link.symlink_to(path)

    return link, lambda: shutil.rmtree(folder, ignore_errors=True)


def open_csv(engine: Engine, path: Path, tmp_dir: Path, *, force_encoding: str | None = None) -> Source:
    delimiter = CSV_SUFFIXES[path.suffix.lower()]
    encoding = force_encoding or detect_encoding(path)
    readable = path if encoding == "utf-8" else transcode_to_utf8(path, encoding, tmp_dir)
    try:
        columns = read_header(readable, delimiter, path)
        linked, unlink = engine_path(readable)
    except BaseException:
        if readable is not path:
            readable.unlink(missing_ok=True)
        raise
    for table in ("reject_errors", "reject_scans"):  # the reader appends to these; start each file empty
        engine.execute(f"DROP TABLE IF EXISTS {table}")

    names = positional(len(columns))

    def collect(engine: Engine) -> list[Reject]:
        rows = engine.query(f"SELECT row, reason, raw FROM {engine.dialect.csv_rejects(names, delimiter)} r ORDER BY row",
                            {"path": str(linked)}).to_pylist()
        return [(int(r["row"]), f"malformed CSV line: {r['reason']}", r["raw"] or "") for r in rows]

    def cleanup() -> None:
        unlink()
        if readable is not path:
            readable.unlink(missing_ok=True)

    return Source(engine.dialect.csv_source(names, delimiter), {"path": str(linked)}, columns, "csv",
                  "utf-8" if encoding == "utf-8" else "gbk", collect_rejects=collect, cleanup=cleanup)


def open_parquet(engine: Engine, path: Path) -> Source:
    try:
        raw_names = list(pq.read_schema(path).names)
    except Exception as exc:
        raise InputError(f"not a readable Parquet file ({type(exc).__name__})", file=str(path)) from exc
    columns = normalise_columns(raw_names, path)
    linked, unlink = engine_path(path)
    return Source(engine.dialect.parquet_source(list(zip(raw_names, positional(len(columns)), strict=True))),
                  {"path": str(linked)}, columns, "parquet", "binary", cleanup=unlink)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object's members; a key that repeats (after trimming and lower-casing) is a bad line."""
    record: dict[str, object] = {}
    for key, value in pairs:
        name = normalise_name(key)
        if name in record:
            raise _RepeatedKey(name)
        record[name] = value
    return record


class _RepeatedKey(ValueError):
    pass


def jsonl_lines(path: str, encoding: str) -> Iterator[tuple[dict[str, str | None] | None, Reject | None]]:
    """Each line of a JSON Lines file, parsed: (record, None) with keys normalised and values as text, or
    (None, reject). A line that does not decode or parse is quarantined, not the file. Runs in-process, or
    on an engine's executors by name (``jsonl_rows``), so the rules are the same wherever a file is read."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8) and encoding == "utf-8":
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                yield None, (number, f"line is not valid {'UTF-8' if encoding == 'utf-8' else 'GBK'} text "
                                     f"(byte {exc.start + 1} of the line)", raw[:2000].decode(encoding, "replace"))
                continue
            if not line.strip():
                yield None, (number, "blank line", "")
                continue
            try:
                obj = json.loads(line, object_pairs_hook=_unique_keys)
            except _RepeatedKey as exc:
                yield None, (number, f"JSON object repeats key {exc} (keys are compared without case)", line[:2000])
                continue
            except (ValueError, RecursionError) as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
                yield None, (number, f"malformed JSON: {reason}", line[:2000])
                continue
            if not isinstance(obj, dict):
                yield None, (number, "JSON line is not an object", line[:2000])
                continue
            record = {k: _to_text(v) for k, v in obj.items()}
            if not all(_encodable(t) for t in (*record, *record.values())):
                yield None, (number, "JSON text holds an unpaired surrogate escape (not Unicode text)",
                             line[:2000].encode("utf-8", "replace").decode("utf-8"))
                continue
            yield record, None


def jsonl_rows(path: str, columns: list[str], encoding: str) -> Iterator[tuple[list[str | None] | None, Reject | None]]:
    """``jsonl_lines`` with each record as its values for ``columns`` (absent keys are NULL): the form an
    engine's remote reader (``Dialect.rows_source``) runs on its executors."""
    for record, reject in jsonl_lines(path, encoding):
        yield ([record.get(c) for c in columns], None) if record is not None else (None, reject)


def open_jsonl(engine: Engine, path: Path) -> Source:
    """One JSON object a line. Where the engine reads files on its executors (``rows_source``), the driver
    only scans for the keys (nothing kept) and the rows never pass through it; otherwise the records are
    parsed here, in one pass, and registered with the engine."""
    encoding = detect_encoding(path)
    text_encoding = "utf-8" if encoding == "utf-8" else "gbk"
    records: list[dict[str, str | None]] = []
    rejects: list[Reject] = []
    columns: dict[str, None] = {}
    remote = engine.dialect.reads_rows_remotely
    parsed = 0
    for record, reject in jsonl_lines(str(path), encoding):
        if record is None:
            rejects.append(reject)  # type: ignore[arg-type]
            continue
        parsed += 1
        columns.update(dict.fromkeys(record))
        if not remote:
            records.append(record)
    if not parsed and not rejects:
        raise InputError("file is empty", file=str(path))
    names = list(columns)
    if remote:
        linked, unlink = engine_path(path)
        reader, options = f"{__name__}:jsonl_rows", {"columns": names, "encoding": encoding}
        return Source(engine.dialect.rows_source(reader, positional(len(names)), options), {"path": str(linked)},
                      names, "jsonl", text_encoding, rejects=rejects, cleanup=unlink)
    data = {p: pa.array([r.get(c) for r in records], pa.string()) for p, c in zip(positional(len(names)), names, strict=True)}
    engine.register_arrow(JSONL_VIEW, pa.table(data or {"_": pa.array([], pa.string())}))
    return Source(JSONL_VIEW, {}, names, "jsonl", text_encoding, rejects=rejects)


def _encodable(text: str | None) -> bool:
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
