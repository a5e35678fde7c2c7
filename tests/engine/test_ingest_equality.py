"""Ingest on Spark equals ingest on DuckDB: the hostile-input cases (tests/ingest/test_hostile.py) and a
GBK file, ingested by both engines, give the same per-file counts and errors, the same loaded rows and
the same quarantine (file, row, field, reason, record)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, load_script
from engines import engine_config, spark_session  # fixtures: imported, not a conftest (see engines.py)

from chainlight import ingest, tables
from chainlight.workspace import Workspace

hostile = load_script("tests/ingest/test_hostile.py")
A, B, ENT, INV, inv, csv_bytes = hostile.A, hostile.B, hostile.ENT, hostile.INV, hostile.inv, hostile.csv_bytes

#: A sample of the hostile table, all in one folder (Spark local mode pays about a second per statement and
#: ingest runs a dozen per file): every format, both encodings, internal-name clashes, odd keys, numbers
#: as people write them, a file that fails, and keys repeated within and across files.
CHOSEN = ("parquet-extra-v_amount-column", "jsonl-key-differs-in-case", "decimal-comma-amounts",
          "parquet-text-stored-as-binary", "binary-bytes-as-csv")

EXTRA = [
    hostile.Case("gbk-with-bad-rows-and-duplicates", {"enterprises_gbk.csv": csv_bytes(
        ENT, f"{A},华为技术,通信设备制造,C3921,广东,深圳,1987-09-15,\"1,000\",是",
        f"{A},华为技术（重复）,通信,C3921,广东,深圳,1987-09-15,100,否",
        f"{B},腾讯,软件,I6513,广东,深圳,1998/11/11,￥200,true",
        "91440300708461136X,坏码,软件,I6513,广东,深圳,1998-11-11,100,true",
        f"{B[:-1]},短码,软件,I6513,广东,深圳,2999-01-01,-5,maybe",
        f"{A},多一列,x,C3921,广东,深圳,1987-09-15,100,true,extra", encoding="gbk")},
        {"enterprises_gbk.csv": hostile.Loaded(2, 4)}),
    hostile.Case("invoices-across-two-files", {
        "invoices_a.csv": csv_bytes(INV, inv("I1"), inv("I2", "-3", "red"), inv("I1", "5"), inv("I3", "abc")),
        "invoices_b.jsonl": hostile.jsonl(*[dict(zip(INV.split(","), inv(i).split(","), strict=True))
                                            for i in ("I2", "I4")], "not json")},
        {"invoices_a.csv": hostile.Loaded(2, 2), "invoices_b.jsonl": hostile.Loaded(1, 2)}),
]
CASES = [c for c in hostile.CASES if c.id in CHOSEN] + EXTRA


def _ingest(engine_name: str, folder: Path, root: Path) -> dict[str, Any]:
    """Everything ingest of every case folder leaves behind (input paths shortened to ``<in>``)."""
    paths = [folder]
    prefix = str(folder.resolve())
    with Workspace(root / "ws", engine_config(engine_name)) as ws:
        report = ingest.run(ws, engine_config(engine_name), paths)
        files = sorted((f.file.replace(prefix, "<in>"), f.table, f.rows_in, f.rows_loaded, f.rows_quarantined, f.format, f.encoding,
                        (f.error or "").replace(str(folder), "<in>")) for f in report.files)
        loaded = {}
        for name, spec in tables.INPUT_TABLES.items():
            cols = ", ".join(f'"{c}"' for c in spec.column_names)
            rows = ws.engine.query(f"SELECT {cols}, _file, _row FROM {name}").to_pylist()
            loaded[name] = sorted((tuple(_comparable(v, prefix) for v in r.values()) for r in rows), key=repr)
        quarantine = sorted((tuple(_comparable(v, prefix) for v in r.values()) for r in ws.engine.query(
            "SELECT table_name, file, row, field, reason, record FROM quarantine").to_pylist()), key=repr)
        accounting = sorted(tuple(_comparable(v, prefix) for v in r.values()) for r in ws.engine.query(
            "SELECT file, table_name, rows_in, rows_loaded, rows_quarantined FROM ingest_files").to_pylist())
    return {"files": files, "loaded": loaded, "quarantine": quarantine, "accounting": accounting}


def _comparable(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return value.replace(prefix, "<in>")
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


@pytest.mark.spark
def test_ingest_equal_on_both_engines(spark_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chosen cases' files in one folder, ingested in one call: the same files, counts, loaded rows
    and quarantine (row, field, reason, record) on both engines."""
    folder = tmp_path / "in"
    for case in CASES:
        hostile._materialise(tmp_path / case.id, case, monkeypatch)
        folder.mkdir(exist_ok=True)
        for name in [*case.files, "bureau.csv"]:
            (tmp_path / case.id / name).replace(folder / name)
    duck = _ingest("duckdb", folder, tmp_path / "duckdb")
    spark = _ingest("spark", folder, tmp_path / "spark")
    assert len(duck["files"]) == len({n for c in CASES for n in c.files}) + 1
    assert len({q[4] for q in duck["quarantine"]}) >= 8  # many different reasons are compared
    assert spark["files"] == duck["files"]
    assert spark["accounting"] == duck["accounting"]
    assert spark["quarantine"] == duck["quarantine"]
    assert spark["loaded"] == duck["loaded"]
    # the service's snapshot reads the Spark warehouse's input views (Spark SQL turned back into DuckDB's)
    pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
    from chainlight.serve.snapshot import Snapshot
    on_duck, on_spark = Snapshot.load(tmp_path / "duckdb" / "ws"), Snapshot.load(tmp_path / "spark" / "ws")
    try:
        assert on_spark.tables == on_duck.tables and on_duck.tables["enterprises"] > 0
        for name in on_duck.tables:
            query = f"SELECT * FROM {name}"
            assert on_spark.db.execute(query).fetchall() == on_duck.db.execute(query).fetchall(), name
    finally:
        on_duck.close()
        on_spark.close()


def test_equality_cases_exist() -> None:
    assert {c.id for c in CASES} >= set(CHOSEN) and REPO.is_dir()
