"""``Engine.shareable``: a query's result that block functions read themselves, checked on every engine.

What a block function is given is a reference (``TableRef``): read where the function runs, equal to the
query's result, small to ship whatever the table's size on a cluster engine, and replaced (not leaked) when
shared again under the same name.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pyarrow as pa
import pytest
from engines import engine, engine_name, spark_session  # fixtures: imported, not a conftest (see engines.py)

from chainlight.engine import Engine
from chainlight.engine.base import ParquetRef, TableRef
from chainlight.errors import StageError

COUNTS = pa.schema([("uscc", pa.string()), ("names", pa.int64())])


def _registry(engine: Engine, n: int) -> None:
    engine.write_arrow("registry", pa.table({"uscc": [f"f{i % (n // 2 or 1):05d}" for i in range(n)],
                                             "name": [f"企业{i}有限公司" for i in range(n)],
                                             "kind": [None if i % 9 == 0 else "registered" for i in range(n)]}))


def test_reference_reads_the_query_result_with_its_key(engine: Engine) -> None:
    _registry(engine, 40)
    ref = engine.shareable("names", "SELECT uscc, name, kind FROM registry WHERE name <> $skip",
                           {"skip": "企业3有限公司"}, key="fp-1")
    expected = engine.query("SELECT uscc, name, kind FROM registry WHERE name <> '企业3有限公司' ORDER BY name")
    got = ref.read().sort_by("name")
    assert ref.key == "fp-1" and got.num_rows == 39
    assert got.select(["uscc", "name", "kind"]).to_pylist() == expected.to_pylist()
    assert pickle.loads(pickle.dumps(ref)).read().sort_by("name").to_pylist() == got.to_pylist()


def test_an_empty_result_keeps_its_columns_and_keys_default_to_fresh_ids(engine: Engine) -> None:
    _registry(engine, 10)
    first = engine.shareable("nothing", "SELECT uscc, name FROM registry WHERE 1 = 0")
    second = engine.shareable("nothing", "SELECT uscc, name FROM registry WHERE 1 = 0")
    table = second.read()
    assert table.num_rows == 0 and table.schema.names == ["uscc", "name"]
    assert first.key != second.key  # no key given: nothing a worker cached is reused


def test_block_functions_read_the_reference_where_they_run(engine: Engine) -> None:
    _registry(engine, 60)
    ref = engine.shareable("names", "SELECT uscc, name FROM registry", key="fp-2")

    def names_per_firm(batch: pa.RecordBatch, registry: TableRef = ref) -> pa.Table:
        table = registry.read()
        counts: dict[str, int] = {}
        for uscc in table.column("uscc").to_pylist():
            counts[uscc] = counts.get(uscc, 0) + 1
        wanted = batch.column("uscc").to_pylist()
        return pa.table({"uscc": wanted, "names": [counts.get(u, 0) for u in wanted]})

    engine.map_batches("_counts", "SELECT DISTINCT uscc FROM registry", names_per_firm, COUNTS)
    assert {r["uscc"]: r["names"] for r in engine.query("SELECT * FROM _counts").to_pylist()} == {
        f"f{i:05d}": 2 for i in range(30)}


@pytest.mark.spark
def test_a_cluster_engine_ships_a_path_not_the_rows_and_cleans_up(spark_session: object, tmp_path: Path) -> None:
    """Spark only: an in-process engine hands out the Arrow result itself, so nothing is shipped there."""
    from engines import SPARK_TEST_CONF

    from chainlight.engine.spark_engine import SparkEngine

    engine = SparkEngine(tmp_path / "warehouse", conf=SPARK_TEST_CONF)
    _registry(engine, 5_000)
    ref = engine.shareable("names", "SELECT uscc, name, kind FROM registry", key="fp")
    assert isinstance(ref, ParquetRef) and len(pickle.dumps(ref)) < 2_000  # 5,000 rows stay in the folder
    assert ref.read().num_rows == 5_000
    again = engine.shareable("names", "SELECT uscc FROM registry WHERE kind IS NULL")
    assert not Path(ref.path).exists() and Path(again.path).exists()  # replaced, not leaked
    assert again.read().num_rows == len([i for i in range(5_000) if i % 9 == 0])
    reader = SparkEngine(engine.warehouse, conf=SPARK_TEST_CONF, read_only=True)
    with pytest.raises(StageError, match="read-only"):
        reader.shareable("names", "SELECT 1 AS x")
    reader.close()
    engine.close()
    assert not Path(again.path).exists()  # gone with the session that made it
