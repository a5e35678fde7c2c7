"""The online service reads a Spark-made warehouse into memory the same way as a DuckDB workspace.

The tiny economy's results (made on DuckDB, since extract, mount and risk do not run on Spark yet) are
written into a Spark warehouse by the Spark engine; the service's snapshot (Parquet read by DuckDB, no
JVM) and the risk engine's DecisionService (through the engine interface, on the Spark engine) must
then hold the same tables and give the same decisions as from the DuckDB workspace.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from engines import engine_config, spark_session  # fixtures: imported, not a conftest (see engines.py)

from chainlight.config import Config
from chainlight.engine.transfer import copy_tables
from chainlight.workspace import DB_FILE, Workspace

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
from chainlight.risk.decide import DecisionService  # noqa: E402
from chainlight.serve.snapshot import Snapshot  # noqa: E402


def _tables(ws: Workspace) -> list[str]:
    """The workspace's tables and views by their plain names (the per-file ingest tables are not read)."""
    rows = ws.engine.query("SELECT table_name FROM duckdb_tables() WHERE NOT temporary UNION "
                           "SELECT view_name FROM duckdb_views() WHERE NOT temporary AND NOT internal").to_pylist()
    return sorted(r["table_name"] for r in rows if not r["table_name"].startswith("_"))


@pytest.fixture(scope="module")
def spark_made(served_workspace: Path, spark_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark_made") / "ws"
    shutil.copytree(served_workspace, root, ignore=shutil.ignore_patterns(f"{DB_FILE}*"))  # models, policies
    with Workspace(served_workspace, Config(), create=False, read_only=True) as duck, \
            Workspace(root, engine_config("spark")) as spark:
        copy_tables(duck.engine, spark.engine, _tables(duck))
    assert not (root / DB_FILE).exists()
    return root


def _rows(snapshot: Snapshot, name: str) -> list[tuple[Any, ...]]:
    def same(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return "nan"
        if hasattr(value, "tzinfo") and value.tzinfo is not None:  # Spark's Parquet drops the zone (UTC)
            return value.replace(tzinfo=None)
        return value
    return [tuple(same(v) for v in row) for row in snapshot.db.execute(f"SELECT * FROM {name}").fetchall()]


@pytest.mark.spark
def test_snapshot_of_a_spark_warehouse_equals_the_duckdb_one(served_workspace: Path, spark_made: Path) -> None:
    duck, spark = Snapshot.load(served_workspace), Snapshot.load(spark_made)
    try:
        assert spark.tables == duck.tables and len(duck.tables) >= 15
        assert spark.anchors == duck.anchors and duck.anchors
        for name in duck.tables:  # every snapshot query orders its rows
            assert _rows(spark, name) == _rows(duck, name), name
    finally:
        duck.close()
        spark.close()


@pytest.mark.spark
def test_decisions_from_a_spark_warehouse_equal_the_duckdb_ones(served_workspace: Path, spark_made: Path) -> None:
    with Workspace(served_workspace, Config(), create=False, read_only=True) as duck_ws, \
            Workspace(spark_made, engine_config("spark"), create=False, read_only=True) as spark_ws:
        firms = [r["uscc"] for r in duck_ws.engine.query(
            "SELECT uscc FROM risk_features ORDER BY uscc LIMIT 40").to_pylist()]
        on_duck = DecisionService.load(duck_ws, Config())
        on_spark = DecisionService.load(spark_ws, engine_config("spark"))
    assert len(firms) == 40
    outcomes = set()
    for uscc in firms:
        a = on_duck.decide(uscc, 500_000, "same-application").model_dump()
        b = on_spark.decide(uscc, 500_000, "same-application").model_dump()
        for varying in ("decided_at", "audit_entry_id"):
            a.pop(varying), b.pop(varying)
        assert b == a, uscc
        outcomes.add(a["decision"])
    assert len(outcomes) >= 2  # the comparison covers more than one kind of decision
