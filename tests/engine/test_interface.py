"""Every engine-interface behaviour, checked on every engine (gaps declared with ``notimpl``)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from engines import engine, engine_name, engine_ws, notimpl, spark_session  # fixtures: imported, not a conftest (see engines.py)

from chainlight.engine import Engine
from chainlight.errors import StageError


def _firms(engine: Engine) -> None:
    engine.write_arrow("firms", pa.table({"uscc": ["a", "b", "c"], "sales": [10.0, 20.0, None],
                                          "founded": [dt.date(2020, 1, 31), dt.date(2021, 2, 1), None]}))


def test_write_arrow_then_query_round_trips(engine: Engine) -> None:
    _firms(engine)
    rows = engine.query("SELECT uscc, sales, founded FROM firms ORDER BY uscc").to_pylist()
    assert rows == [{"uscc": "a", "sales": 10.0, "founded": dt.date(2020, 1, 31)},
                    {"uscc": "b", "sales": 20.0, "founded": dt.date(2021, 2, 1)},
                    {"uscc": "c", "sales": None, "founded": None}]
    assert engine.table_exists("firms") and not engine.table_exists("nobody")
    assert [c for c, _ in engine.columns("firms")] == ["uscc", "sales", "founded"]
    assert dict(engine.columns("firms"))["sales"] == "DOUBLE"


def test_empty_arrow_table_keeps_its_schema(engine: Engine) -> None:
    engine.write_arrow("empty", pa.table({"uscc": pa.array([], pa.string()), "n": pa.array([], pa.int64())}))
    assert engine.scalar("SELECT count(*) FROM empty") == 0
    assert [c for c, _ in engine.columns("empty")] == ["uscc", "n"]


def test_named_parameters_scalars_and_lists(engine: Engine) -> None:
    _firms(engine)
    rows = engine.query("SELECT uscc FROM firms WHERE sales >= $floor AND list_contains($keep, uscc) ORDER BY uscc",
                        {"floor": 5.0, "keep": ["a", "b", "x"]}).column(0).to_pylist()
    assert rows == ["a", "b"]
    assert engine.scalar("SELECT CAST($s AS VARCHAR) || '!'", {"s": "x"}) == "x!"


def test_duckdb_spellings_mean_the_same(engine: Engine) -> None:
    """date_diff counts month boundaries (DuckDB's meaning); FILTER, IS DISTINCT FROM, intervals, to_months."""
    _firms(engine)
    row = engine.query(
        "SELECT date_diff('month', DATE '2020-01-31', DATE '2020-02-01') AS boundary, "
        "count(*) FILTER (WHERE sales > 15) AS big, "
        "count(*) FILTER (WHERE sales IS DISTINCT FROM 10.0) AS not_ten, "
        "max(founded) - INTERVAL 12 MONTH AS year_before, "
        "max(founded) - to_months(CAST($months AS INTEGER)) AS months_before FROM firms", {"months": 6}).to_pylist()[0]
    assert row["boundary"] == 1 and row["big"] == 1 and row["not_ten"] == 2
    as_dates = {k: v.date() if isinstance(v, dt.datetime) else v for k, v in row.items()}
    assert as_dates["year_before"] == dt.date(2020, 2, 1) and as_dates["months_before"] == dt.date(2020, 8, 1)


def test_create_table_as_temp_table_and_views(engine: Engine) -> None:
    _firms(engine)
    engine.execute("CREATE OR REPLACE TABLE big AS SELECT * FROM firms WHERE sales > $f", {"f": 15.0})
    engine.execute("CREATE OR REPLACE TEMP TABLE _scratch AS SELECT uscc FROM big")
    engine.execute("CREATE OR REPLACE VIEW big_view AS SELECT uscc FROM big")
    engine.execute("CREATE OR REPLACE TEMP VIEW _tmp_view AS SELECT uscc FROM _scratch")
    assert engine.query("SELECT uscc FROM _tmp_view").column(0).to_pylist() == ["b"]
    assert engine.query("SELECT uscc FROM big_view").column(0).to_pylist() == ["b"]
    assert engine.table_exists("big") and engine.table_exists("big_view")
    assert not engine.table_exists("_scratch")  # temporary tables are not the workspace's tables
    engine.execute("CREATE OR REPLACE TEMP TABLE _scratch AS SELECT uscc FROM _scratch UNION ALL SELECT 'z'")
    assert sorted(engine.query("SELECT uscc FROM _scratch").column(0).to_pylist()) == ["b", "z"]


def test_union_of_temp_tables_aggregated_from_one_table(engine: Engine) -> None:
    """Parts computed one at a time and joined by UNION ALL (risk's per-date features): Spark's constraint
    propagation failed on this with "key not found" until the engine turned it off."""
    engine.execute("CREATE OR REPLACE TEMP TABLE _sold AS SELECT * FROM (VALUES ('a', 4.0), ('a', 6.0), ('b', 20.0)) "
                   "AS v(uscc, sales)")  # columns that cannot be NULL: what set the constraints off
    for part in range(2):
        engine.execute(f"CREATE OR REPLACE TEMP TABLE _part_{part} AS SELECT uscc, sum(sales) AS total FROM _sold GROUP BY uscc")
    engine.execute("CREATE OR REPLACE TEMP TABLE _parts AS SELECT * FROM _part_0 UNION ALL SELECT * FROM _part_1")
    rows = engine.query("SELECT uscc, total FROM _parts ORDER BY uscc").to_pylist()
    assert [(r["uscc"], r["total"]) for r in rows] == [("a", 10.0), ("a", 10.0), ("b", 20.0), ("b", 20.0)]


def test_schema_only_create_insert_delete(engine: Engine) -> None:
    engine.execute('CREATE TABLE IF NOT EXISTS log ("id" VARCHAR, "n" BIGINT)')
    engine.execute('CREATE TABLE IF NOT EXISTS log ("id" VARCHAR, "n" BIGINT)')  # no-op, no error
    engine.execute("INSERT INTO log VALUES ($id, $n)", {"id": "a", "n": 1})
    engine.execute("INSERT INTO log VALUES ($id, $n)", {"id": "b", "n": 2})
    engine.execute("DELETE FROM log WHERE id = $id", {"id": "a"})
    assert engine.query("SELECT id, n FROM log").to_pylist() == [{"id": "b", "n": 2}]


def test_rename_and_drop(engine: Engine) -> None:
    _firms(engine)
    engine.execute("ALTER TABLE firms RENAME TO companies")
    assert not engine.table_exists("firms") and engine.scalar("SELECT count(*) FROM companies") == 3
    engine.execute("DROP TABLE IF EXISTS companies")
    engine.execute("DROP TABLE IF EXISTS companies")
    assert not engine.table_exists("companies")


def test_transaction_swaps_all_tables_or_none(engine: Engine) -> None:
    engine.write_arrow("a", pa.table({"v": [1]}))
    engine.write_arrow("b", pa.table({"v": [1]}))
    engine.write_arrow("__new_a", pa.table({"v": [2]}))
    engine.write_arrow("__new_b", pa.table({"v": [2]}))
    with pytest.raises(RuntimeError, match="crash"):
        with engine.transaction():
            engine.execute("DROP TABLE IF EXISTS a")
            engine.execute("ALTER TABLE __new_a RENAME TO a")
            raise RuntimeError("crash")
    assert engine.scalar("SELECT v FROM a") == 1 and engine.scalar("SELECT v FROM b") == 1
    with engine.transaction():
        for t in ("a", "b"):
            engine.execute(f"DROP TABLE IF EXISTS {t}")
            engine.execute(f"ALTER TABLE __new_{t} RENAME TO {t}")
    assert engine.scalar("SELECT v FROM a") == 2 and engine.scalar("SELECT v FROM b") == 2


def test_register_arrow_is_a_temporary_view(engine: Engine) -> None:
    engine.register_arrow("_pairs", pa.table({"k": ["x", "y"], "w": [1.5, 2.5]}))
    assert engine.scalar("SELECT sum(w) FROM _pairs") == 4.0
    assert not engine.table_exists("_pairs")


def test_bad_sql_is_a_stage_error_with_the_sql(engine: Engine) -> None:
    with pytest.raises(StageError) as info:
        engine.execute("CREATE OR REPLACE TABLE t AS SELECT no_such_column FROM (SELECT 1 AS x)", table="t")
    assert "no_such_column" in (info.value.sql or "") and "table t" in str(info.value)


def test_uscc_checksum_sql(engine: Engine) -> None:
    from chainlight import uscc
    good = uscc.make("9", "1", "330400", "MA2B3C4D")
    codes = [good, good[:17] + ("0" if good[17] != "0" else "1"), "short"]  # NULL: callers guard (engines differ)
    engine.register_arrow("_codes", pa.table({"c": pa.array(codes, pa.string())}))
    got = engine.query(f"SELECT {engine.dialect.uscc_checksum_ok('c')} AS ok FROM _codes").column(0).to_pylist()
    assert got == [True, False, False]
    assert uscc.is_valid(good)


def test_try_date_reads_the_documented_spellings(engine: Engine) -> None:
    engine.register_arrow("_d", pa.table({"s": ["2024-03-05", "2024/03/05", "20240305", "2024.03.05", "yesterday"]}))
    got = engine.query(f"SELECT {engine.dialect.try_date('s')} AS d FROM _d").column(0).to_pylist()
    assert got == [dt.date(2024, 3, 5)] * 4 + [None]


def test_update(engine: Engine) -> None:
    _firms(engine)
    engine.execute("UPDATE firms SET sales = 0 WHERE uscc = 'a'")
    assert engine.scalar("SELECT sales FROM firms WHERE uscc = 'a'") == 0.0
    assert engine.scalar("SELECT sum(sales) FROM firms") == 20.0  # the other rows untouched


def test_update_from_a_joined_source_touches_matched_rows_only(engine: Engine) -> None:
    _firms(engine)
    engine.write_arrow("fixes", pa.table({"uscc": ["b", "c", "z"], "sales": [1.5, 2.5, 9.0]}))
    engine.execute("UPDATE firms SET sales = f.sales * 2, founded = NULL FROM fixes f "
                   "WHERE f.uscc = firms.uscc AND f.sales > $floor", {"floor": 2.0})
    rows = engine.query("SELECT uscc, sales, founded FROM firms ORDER BY uscc").to_pylist()
    assert rows == [{"uscc": "a", "sales": 10.0, "founded": dt.date(2020, 1, 31)},
                    {"uscc": "b", "sales": 20.0, "founded": dt.date(2021, 2, 1)},
                    {"uscc": "c", "sales": 5.0, "founded": None}]
    engine.execute("CREATE TEMP TABLE scratch AS SELECT uscc, sales FROM firms")
    engine.execute("UPDATE scratch SET sales = -1 WHERE uscc = 'a'")
    assert engine.scalar("SELECT sum(sales) FROM scratch") == 24.0


def test_csv_source_with_rejects(engine: Engine, tmp_path) -> None:
    """The CSV reader yields the parsed records in file order and reports each rejected line with its data
    row and reason (both engines run DuckDB's reader: the Spark engine on its executors)."""
    path = tmp_path / "x.csv"
    path.write_text('a,b\n1,2\n3,4,5\n"x\ny",z\n6\n7,8\n', encoding="utf-8")
    engine.execute("DROP TABLE IF EXISTS reject_errors")
    engine.execute("DROP TABLE IF EXISTS reject_scans")
    ordinal = f", {engine.dialect.ordinal_column}" if engine.dialect.ordinal_column else ""
    sql = f"SELECT * FROM {engine.dialect.csv_source(['a', 'b'], ',')} s"
    rows = engine.query(f"SELECT a, b{ordinal} FROM ({sql}) t", {"path": str(path)}).to_pylist()
    assert [(r["a"], r["b"]) for r in rows] == [("1", "2"), ("x\ny", "z"), ("7", "8")]
    if ordinal:
        assert [r[engine.dialect.ordinal_column] for r in rows] == [1, 2, 3]
    rejects = engine.query(f"SELECT row, reason FROM {engine.dialect.csv_rejects(['a', 'b'], ',')} r ORDER BY row",
                           {"path": str(path)}).to_pylist()
    assert rejects == [{"row": 2, "reason": "too many columns"}, {"row": 4, "reason": "missing columns"}]


def test_capability_flags_are_declared(engine: Engine) -> None:
    assert engine.capabilities <= {"in_process", "supports_transactions", "supports_python_udfs",
                                   "supports_csv_rejects", "supports_update"}
    assert engine.supports_update == ("supports_update" in engine.capabilities)


def test_division_is_double_and_ordered_lists_keep_their_order(engine: Engine) -> None:
    """DuckDB's ``/`` divides as DOUBLE (Spark would keep ``7 / 12.0`` as a 6-place DECIMAL); ``list(x ORDER BY
    …)`` keeps its order with DESC keys and NULLs last (Spark's collect_list keeps none)."""
    engine.write_arrow("lines", pa.table({"g": ["a"] * 4 + ["b"], "w": [0.5, None, 2.0, 2.0, 1.0],
                                          "r": ["x", "y", "z", "q", "p"], "n": [7, 7, 7, 7, 7]}))
    row = engine.query("SELECT 7 / 2 AS half, n / 12.0 AS twelfth, CAST(n AS DECIMAL(18, 2)) / 3 AS third "
                       "FROM lines LIMIT 1").to_pylist()[0]
    assert row == {"half": 3.5, "twelfth": 7 / 12, "third": 7 / 3}
    lists = engine.query("SELECT g, list(struct_pack(r := r, w := w) ORDER BY w DESC, r) AS xs "
                         "FROM lines GROUP BY g ORDER BY g").to_pylist()
    assert [x["r"] for x in lists[0]["xs"]] == ["q", "z", "x", "y"]
    assert lists[1]["xs"] == [{"r": "p", "w": 1.0}]


def test_stable_bucket_is_the_same_on_every_engine(engine: Engine) -> None:
    import hashlib

    from chainlight.engine.base import stable_bucket
    codes = [f"91330400MA2{i:07d}" for i in range(200)]
    engine.write_arrow("codes", pa.table({"uscc": codes}))
    rows = engine.query(f"SELECT uscc, {stable_bucket('uscc')} AS b FROM codes").to_pylist()
    got = {r["uscc"]: r["b"] for r in rows}
    assert got == {c: int(hashlib.md5(c.encode()).hexdigest()[:4], 16) * 1000 // 65536 for c in codes}
    assert len(set(got.values())) > 150  # spread over the buckets


def test_stable_hash_is_the_md5_prefix_on_every_engine(engine: Engine) -> None:
    """15 hex digits (60 bits) come out exact on both engines: each digit is a BIGINT before it is scaled."""
    import hashlib

    from chainlight.engine.base import stable_hash
    texts = ["嘉兴丞达新材料科技有限公司", "a|b|registered", "", "91330400MA20000017"]
    engine.write_arrow("texts", pa.table({"t": texts}))
    rows = engine.query(f"SELECT t, {stable_hash('t', 15)} AS h FROM texts").to_pylist()
    assert {r["t"]: r["h"] for r in rows} == {t: int(hashlib.md5(t.encode()).hexdigest()[:15], 16) for t in texts}


def test_copy_tables_hands_tables_over_through_parquet(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables of several row groups arrive whole and in their types (dates, decimals, booleans, nulls, Chinese
    text); an empty one keeps its schema."""
    import datetime
    from decimal import Decimal

    from chainlight.engine import transfer
    from chainlight.engine.duckdb_engine import DuckDBEngine
    monkeypatch.setattr(transfer, "ROW_GROUP_ROWS", 3)
    source = DuckDBEngine()
    source.write_arrow("firms", pa.table({
        "uscc": [f"u{i}" for i in range(8)], "sales": [float(i) for i in range(8)],
        "name": ["嘉兴丞达", None, *[f"名{i}" for i in range(6)]],
        "founded": pa.array([datetime.date(2020, 1, 1 + i) for i in range(8)], pa.date32()),
        "capital": pa.array([Decimal(f"{i}.50") for i in range(8)], pa.decimal128(18, 2)),
        "listed": [i % 2 == 0 for i in range(8)]}))
    source.write_arrow("none", pa.table({"uscc": pa.array([], pa.string())}))
    assert transfer.copy_tables(source, engine, ["firms", "none"]) == {"firms": 8, "none": 0}
    assert engine.query("SELECT * FROM firms ORDER BY sales").to_pylist() == \
        source.query("SELECT * FROM firms ORDER BY sales").to_pylist()
    assert engine.columns("firms") == source.columns("firms")
    assert engine.scalar("SELECT count(*) FROM none") == 0 and [c for c, _ in engine.columns("none")] == ["uscc"]
