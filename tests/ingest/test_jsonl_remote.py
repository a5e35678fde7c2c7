"""JSON Lines read where the data lives: the Spark file reader runs ingest's own line parser on an executor
(here called directly, no JVM), and its rows equal the records ingest parses in-process, in file order."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from chainlight.engine import spark_files
from chainlight.engine.duckdb_engine import DUCKDB_DIALECT
from chainlight.engine.spark_engine import SparkDialect
from chainlight.ingest import readers


def _file(tmp_path: Path, encoding: str) -> Path:
    lines = [json.dumps({"USCC": "A1", "Name": "华为", "n": 1}, ensure_ascii=False), "not json", "",
             json.dumps({"uscc": "B2", "extra": [1, 2], "flag": True}, ensure_ascii=False),
             json.dumps({"uscc": "C3", "uscc ": "dup"}), "[1, 2]",
             json.dumps({"uscc": "D4", "name": "腾讯"}, ensure_ascii=False)]
    path = tmp_path / f"firms.{encoding}.jsonl"
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


def test_executor_rows_equal_in_process_records(tmp_path: Path) -> None:
    for encoding in ("utf-8", "gbk"):
        path = _file(tmp_path, encoding)
        detected = readers.detect_encoding(path)
        parsed = list(readers.jsonl_lines(str(path), detected))
        records = [r for r, _ in parsed if r is not None]
        rejects = [j for _, j in parsed if j is not None]
        assert [r["uscc"] for r in records] == ["A1", "B2", "D4"]
        assert [row for row, _, _ in rejects] == [2, 3, 5, 6]  # bad JSON, blank, repeated key, not an object
        columns = list(dict.fromkeys(k for r in records for k in r))
        spec = spark_files.file_spec("rows", columns, reader="chainlight.ingest.readers:jsonl_rows",
                                     options={"columns": columns, "encoding": detected})
        got = pa.concat_tables(spark_files.read_file(str(path), spec)).to_pylist()
        assert [g["_ordinal"] for g in got] == [1, 2, 3]
        assert [g["_cols"] for g in got] == [[r.get(c) for c in columns] for r in records]
        assert records[1]["extra"] == "[1, 2]" and records[1]["flag"] == "true"
        assert records[2]["name"] == "腾讯"


def test_spark_dialect_names_the_parser_and_keeps_columns_in_order() -> None:
    sql = SparkDialect().rows_source("chainlight.ingest.readers:jsonl_rows", ["_c0", "_c1"],
                                     {"columns": ["uscc", "name"], "encoding": "utf-8"})
    assert sql.index("_cols[1] AS") < sql.index("_cols[2] AS") and spark_files.FUNCTION in sql
    assert SparkDialect.reads_rows_remotely and not DUCKDB_DIALECT.reads_rows_remotely  # DuckDB parses in-process


def test_a_file_of_empty_objects_is_not_an_empty_file(tmp_path: Path) -> None:
    """Records without keys still count as parsed lines (the file is read, each row then lacks its columns)."""
    from chainlight.engine import DuckDBEngine

    path = tmp_path / "x.jsonl"
    path.write_text("{}\n{}\n")
    source = readers.open_jsonl(DuckDBEngine(), path)
    assert source.columns == [] and source.rejects == []
