"""``Engine.map_batches``: per-block Python compute where the data lives, checked on every engine.

The block functions are defined inside the tests: pickled by value, so Spark's Python workers need not
import this test module.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from engines import engine, engine_name, spark_session  # fixtures: imported, not a conftest (see engines.py)

from chainlight.engine import Engine
from chainlight.errors import StageError

DOUBLED = pa.schema([("uscc", pa.string()), ("twice", pa.float64())])
TOTALS = pa.schema([("chain", pa.string()), ("rows", pa.int64()), ("total", pa.float64())])


def _firms(engine: Engine, n: int = 50) -> None:
    engine.write_arrow("firms", pa.table({
        "uscc": [f"f{i:03d}" for i in range(n)],
        "chain": [None if i % 7 == 0 else f"c{i % 3}" for i in range(n)],
        "sales": [None if i % 5 == 0 else float(i) for i in range(n)]}))


def test_batch_function_sees_every_row_once_with_parameters(engine: Engine) -> None:
    _firms(engine)

    def double(batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([batch.column("uscc"), pc.multiply(batch.column("sales"), 2.0)],
                                          names=["uscc", "twice"])

    engine.map_batches("_doubled", "SELECT uscc, sales FROM firms WHERE uscc >= $from", double, DOUBLED,
                       params={"from": "f010"})
    rows = engine.query("SELECT uscc, twice FROM _doubled ORDER BY uscc").to_pylist()
    assert [r["uscc"] for r in rows] == [f"f{i:03d}" for i in range(10, 50)]
    assert [r["twice"] for r in rows] == [None if i % 5 == 0 else 2.0 * i for i in range(10, 50)]
    assert not engine.table_exists("_doubled")  # a temporary table, not one of the workspace's


def test_group_by_hands_each_group_whole_to_one_call(engine: Engine) -> None:
    _firms(engine)

    def total(group: pa.RecordBatch) -> pa.Table:
        return pa.table({"chain": [group.column("chain")[0].as_py()], "rows": [group.num_rows],
                         "total": [pc.sum(group.column("sales")).as_py()]})

    engine.map_batches("_totals", "SELECT chain, sales FROM firms", total, TOTALS, group_by=["chain"])
    got = {r["chain"]: (r["rows"], r["total"]) for r in engine.query("SELECT * FROM _totals").to_pylist()}
    chains = [None if i % 7 == 0 else f"c{i % 3}" for i in range(50)]
    expected = {c: (chains.count(c), float(sum(i for i in range(50) if chains[i] == c and i % 5))) for c in set(chains)}
    assert got == expected  # one row per group: no group split across calls, NULL keys one group


def test_output_is_cast_to_the_declared_schema_with_nested_columns(engine: Engine) -> None:
    _firms(engine, 4)
    schema = pa.schema([("uscc", pa.string()), ("n", pa.int64()),
                        ("reasons", pa.list_(pa.struct([("code", pa.string()), ("points", pa.float64())])))])

    def reasons(batch: pa.RecordBatch) -> pa.Table:  # int32 and a dict list: conformed to the schema
        return pa.table({"uscc": batch.column("uscc"), "n": pa.array([1] * batch.num_rows, pa.int32()),
                         "reasons": [[{"code": u, "points": 1.5}] for u in batch.column("uscc").to_pylist()]})

    engine.map_batches("_reasons", "SELECT uscc FROM firms", reasons, schema)
    assert dict(engine.columns("_reasons"))["n"] == "BIGINT"
    rows = engine.query("SELECT uscc, n, reasons FROM _reasons ORDER BY uscc").to_pylist()
    assert rows[0] == {"uscc": "f000", "n": 1, "reasons": [{"code": "f000", "points": 1.5}]}
    assert len(rows) == 4


def test_empty_input_gives_an_empty_table_with_the_schema(engine: Engine) -> None:
    _firms(engine)

    def never(batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch

    engine.map_batches("_none", "SELECT uscc, sales AS twice FROM firms WHERE false", never, DOUBLED)
    assert engine.scalar("SELECT count(*) FROM _none") == 0
    assert [c for c, _ in engine.columns("_none")] == ["uscc", "twice"]


def test_a_failing_function_or_a_missing_column_is_a_stage_error(engine: Engine) -> None:
    _firms(engine)

    def broken(batch: pa.RecordBatch) -> pa.RecordBatch:
        raise ValueError("bad block")

    def short(batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch.select(["uscc"])

    with pytest.raises(StageError, match="bad block"):
        engine.map_batches("_broken", "SELECT uscc FROM firms", broken, DOUBLED)
        engine.query("SELECT * FROM _broken")
    with pytest.raises(StageError, match="lacks columns"):
        engine.map_batches("_short", "SELECT uscc FROM firms", short, DOUBLED)
        engine.query("SELECT * FROM _short")
    with pytest.raises(ValueError, match="not a safe SQL identifier"):
        engine.map_batches("_x; drop", "SELECT uscc FROM firms", short, DOUBLED)
