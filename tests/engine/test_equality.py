"""The same small synthetic workspace through DuckDB and Spark gives the same tables, stage by stage.

The tiny economy is ingested and run through every built stage on DuckDB (the shared ``tiny_workspace``).
Its input tables are handed to a Spark workspace; every stage that runs on both engines (ontology, resolve,
extract, mount, graph, expert, risk: every batch stage) then runs on Spark, each reading what Spark's own earlier stages
wrote, and every table they write must equal DuckDB's: exact keys, counts and non-float values, floats (also
inside lists and structs) to a relative 1e-9. A table without a key (``rejected_facts``, ``mount_evidence``)
is compared row by row in the order of all its columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engines import (  # fixtures: imported, not a conftest (see engines.py)
    engine,
    engine_config,
    engine_name,
    engine_ws,
    spark_session,
)

from chainlight import pipeline, tables
from chainlight.engine import Engine
from chainlight.engine.base import quote_identifier
from chainlight.engine.transfer import copy_tables
from chainlight.workspace import Workspace

pytestmark = pytest.mark.spark

SPARK_STAGES = ["ontology", "resolve", "extract", "mount", "graph", "expert", "risk"]


def _key(ws: Workspace, table: str) -> list[str]:
    """The table's key, or (a keyless table) its non-float columns then the rest."""
    spec = tables.get(table)
    assert spec is not None, table
    if spec.key:
        return list(spec.key)
    columns = [(c, t) for c, t in ws.engine.columns(table) if c != "run_id"]
    return [c for c, t in columns if t != "DOUBLE"] + [c for c, t in columns if t == "DOUBLE"]


def _rows(ws: Workspace, table: str) -> tuple[list[str], list[dict[str, Any]]]:
    columns = [c for c, _ in ws.engine.columns(table) if c != "run_id"]
    order = ", ".join(quote_identifier(k) for k in _key(ws, table))
    select = ", ".join(quote_identifier(c) for c in columns)  # firm_claims has an "end"
    return columns, ws.engine.query(f"SELECT {select} FROM {table} ORDER BY {order}").to_pylist()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):  # profile facts, trend citations: order matters
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@dataclass(frozen=True)
class Crossing:
    """Something that passed between the driver and the engine while a stage ran."""

    what: str  # query (engine → driver), block_function (driver → executors, pickled), arrow (driver → engine)
    rows: int
    payload: bytes  # the pickled block function, or the result as Arrow IPC
    sql: str


#: What resolve and extract on Spark sent across the driver (filled by ``spark_ws``, read by the test below).
DRIVER_CROSSINGS: list[Crossing] = []
DRIVER_ROWS = 5  # a query result may bring back counts and a fingerprint, never a table


def _arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


@contextmanager
def _driver_spy(engine: Engine, seen: list[Crossing]) -> Iterator[None]:
    """Record every query result, every block function shipped and every Arrow table sent from the driver."""
    from pyspark import cloudpickle

    query, map_batches, register, write = engine._query, engine._map_batches, engine.register_arrow, engine.write_arrow

    def spied_query(sql: str, params: Any) -> pa.Table:
        result = query(sql, params)
        seen.append(Crossing("query", result.num_rows, _arrow_bytes(result), sql))
        return result

    def spied_map(name: str, sql: str, fn: Any, schema: pa.Schema, params: Any, group_by: list[str]) -> None:
        seen.append(Crossing("block_function", 0, cloudpickle.dumps(fn), name))
        map_batches(name, sql, fn, schema, params, group_by)

    def spied_register(name: str, data: pa.Table) -> None:
        seen.append(Crossing("arrow", data.num_rows, b"", name))
        register(name, data)

    def spied_write(name: str, data: pa.Table, *, replace: bool = True) -> None:
        seen.append(Crossing("arrow", data.num_rows, b"", name))
        write(name, data, replace=replace)

    engine._query, engine._map_batches = spied_query, spied_map  # type: ignore[method-assign]
    engine.register_arrow, engine.write_arrow = spied_register, spied_write  # type: ignore[method-assign]
    try:
        yield
    finally:
        del engine._query, engine._map_batches, engine.register_arrow, engine.write_arrow


@pytest.fixture(scope="module")
def spark_ws(tiny_workspace: Workspace, spark_session: object, tmp_path_factory: pytest.TempPathFactory) -> Any:
    ws = Workspace(tmp_path_factory.mktemp("spark_equal") / "ws", engine_config("spark"))
    copy_tables(tiny_workspace.engine, ws.engine, list(tables.INPUT_TABLES))
    pipeline.run_stages(ws, ws.config, SPARK_STAGES[:1])
    with _driver_spy(ws.engine, DRIVER_CROSSINGS):
        pipeline.run_stages(ws, ws.config, ["resolve", "extract"])
    pipeline.run_stages(ws, ws.config, SPARK_STAGES[3:])
    yield ws
    ws.close()


def test_resolve_and_extract_keep_the_registry_off_the_spark_driver(tiny_workspace: Workspace, spark_ws: Workspace) -> None:
    """The registry (one row per firm name) never comes to the driver nor leaves it with a block function:
    query results are counts and the fingerprint — or the item reader's learned vocabulary, which holds no
    firm name — and no shipped block function carries a firm's name."""
    registered = tiny_workspace.engine.query(
        "SELECT name FROM enterprises WHERE length(name) >= 8 ORDER BY name").column(0).to_pylist()
    sample = [name.encode() for name in registered[::max(1, len(registered) // 100)]]
    seen = DRIVER_CROSSINGS
    assert {c.what for c in seen} == {"query", "block_function"}, "no Arrow table sent from the driver"
    assert sum(c.what == "block_function" for c in seen) >= 5  # the spy saw both stages' block functions
    for crossing in seen:
        carried = [n.decode() for n in sample if n in crossing.payload]
        assert not carried, f"{crossing.what} {crossing.sql[:80]!r} carries firm names, e.g. {carried[:3]}"
        if crossing.what == "query" and crossing.rows > DRIVER_ROWS:
            assert "_reader_" in crossing.sql, f"{crossing.rows} rows came to the driver: {crossing.sql[:200]}"
    assert sample and registered  # the check had names to look for


def _stage_tables(stage: str) -> list[str]:
    return sorted(name for name, spec in tables.derived().items() if spec.owner == stage)


@pytest.mark.parametrize("stage", SPARK_STAGES)
def test_stage_tables_equal_across_engines(stage: str, tiny_workspace: Workspace, spark_ws: Workspace) -> None:
    names = _stage_tables(stage)
    assert names
    for table in names:
        duck_columns, duck = _rows(tiny_workspace, table)
        spark_columns, spark = _rows(spark_ws, table)
        assert spark_columns == duck_columns, table
        assert len(spark) == len(duck), table
        key = [k for k, t in tiny_workspace.engine.columns(table) if k in _key(tiny_workspace, table) and t != "DOUBLE"]
        assert [[r[k] for k in key] for r in spark] == [[r[k] for k in key] for r in duck], table
        for d, s in zip(duck, spark, strict=True):
            diffs = {c: (d[c], s[c]) for c in duck_columns if not _same(d[c], s[c])}
            assert not diffs, f"{table} {[d[k] for k in key]}: {diffs}"


def test_graph_on_spark_is_not_empty(spark_ws: Workspace) -> None:
    """Guards the equality above from passing on two empty graphs."""
    assert spark_ws.row_count("supply_edges") > 100
    assert spark_ws.engine.scalar("SELECT count(*) FROM graph_features WHERE is_anchor") > 0
    assert spark_ws.engine.scalar("SELECT count(*) FROM graph_features WHERE hops_to_anchor >= 2") > 0
    run = spark_ws.last_run("graph")
    assert run is not None and '"pagerank_iterations"' in run["stats"]


def test_expert_on_spark_is_not_empty(spark_ws: Workspace) -> None:
    """Guards the expert's equality from passing on empty tables: every firm profiled and scored, with
    reasons, and cited trends (ordered lists: Spark collects them unordered unless told)."""
    firms = spark_ws.row_count("enterprises")
    assert spark_ws.row_count("profiles") == firms and spark_ws.row_count("operating_scores") == firms
    reasons = spark_ws.engine.query("SELECT reasons FROM operating_scores").column(0).to_pylist()
    assert sum(1 for r in reasons if r) > firms // 2
    weights = [[c["weight"] for c in r["citations"]] for r in spark_ws.engine.query("SELECT citations FROM trends").to_pylist()]
    assert any(len(w) > 1 for w in weights) and all(w == sorted(w, reverse=True) for w in weights)


def test_resolve_on_spark_is_not_empty(spark_ws: Workspace) -> None:
    """Guards resolve's equality from passing on empty tables: every method the matcher has is used, report
    text is scanned, and the seller's-partner evidence settles some ambiguous buyer (its groups ran)."""
    methods = {r["method"]: r["n"] for r in spark_ws.engine.query(
        "SELECT method, count(*) AS n FROM entity_links GROUP BY method").to_pylist()}
    assert {"uscc", "exact", "ambiguous", "unresolved"} <= set(methods), methods
    assert spark_ws.engine.scalar("SELECT count(*) FROM entity_links WHERE source = 'report' AND uscc IS NOT NULL") > 0
    assert spark_ws.row_count("resolved_names") > 100
    run = spark_ws.last_run("resolve")
    assert run is not None and '"names_reused": 0' in run["stats"]


def test_resolve_on_spark_reuses_its_decisions(spark_ws: Workspace) -> None:
    """A second run on Spark reads the decisions the first one wrote (the registry fingerprint is spelt the same
    way on both engines) and writes the same links."""
    before = spark_ws.engine.query("SELECT mention_id, uscc, method FROM entity_links ORDER BY mention_id")
    result = pipeline.run_stages(spark_ws, spark_ws.config, ["resolve"])[0]
    assert result.stats["names_resolved_now"] == 0 and result.stats["names_reused"] == spark_ws.row_count("resolved_names")
    assert spark_ws.engine.query("SELECT mention_id, uscc, method FROM entity_links ORDER BY mention_id").equals(before)


def test_risk_on_spark_is_not_empty(spark_ws: Workspace) -> None:
    """Guards risk's equality from passing on empty tables: test PDs for every test row, a decision of each
    kind with reasons, evidence that walks to an anchor and lists claims, and the scorecards' test AUC."""
    assert spark_ws.row_count("risk_backtest") > 100
    assert spark_ws.row_count("risk_features") == spark_ws.row_count("enterprises")
    kinds = {r["decision"] for r in spark_ws.engine.query("SELECT DISTINCT decision FROM decisions").to_pylist()}
    assert {"approve", "refer"} <= kinds
    evidence = [json.loads(r["evidence"]) for r in spark_ws.engine.query("SELECT evidence FROM decisions").to_pylist()]
    assert any(e.get("path_to_anchor") for e in evidence) and any(e.get("key_customers") for e in evidence)
    assert any(e.get("claims_supported") or e.get("claims_contradicted") for e in evidence)
    aucs = spark_ws.engine.query("SELECT auc_test FROM risk_models").column(0).to_pylist()
    assert all(a is not None and 0.5 < a < 1 for a in aucs)


def test_decisions_hash_is_made_in_the_engine_alike(tiny_workspace: Workspace, spark_ws: Workspace) -> None:
    """The batch audit entry's hash of the decisions is computed where they live, spelt the same by both engines."""
    from chainlight import risk
    from chainlight.risk import audit
    digest = risk._decisions_digest(spark_ws)
    assert digest == risk._decisions_digest(tiny_workspace)
    assert [e for e in audit.entries(spark_ws) if e["kind"] == "batch"][-1]["inputs"]["decisions_hash"] == digest


def test_every_stage_runs_on_spark(spark_ws: Workspace) -> None:
    """Nothing is refused any more: the whole pipeline runs on Spark (``chainlight run --engine spark``)."""
    pipeline.check_engine(spark_ws.engine, pipeline.built_stages())
    assert all(spark_ws.last_run(stage) is not None for stage in pipeline.built_stages())


def test_service_serves_a_spark_run_risk_stage(tiny_workspace: Workspace, served_workspace: Path,
                                                spark_ws: Workspace) -> None:
    """The online service reads the Spark-made workspace (its Parquet snapshot, and the risk tables through the
    engine) and decides as on DuckDB; each application's service decision is its batch row (one composition)."""
    pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
    from chainlight.risk.decide import DecisionService
    from chainlight.serve.snapshot import Snapshot
    # (the DuckDB side from the served copy: this process holds the tiny workspace's file open for writing)
    duck_snapshot, spark_snapshot = Snapshot.load(served_workspace), Snapshot.load(spark_ws.root)
    try:
        assert spark_snapshot.tables == duck_snapshot.tables
    finally:
        duck_snapshot.close()
        spark_snapshot.close()
    on_duck = DecisionService.load(tiny_workspace, tiny_workspace.config)
    on_spark = DecisionService.load(spark_ws, spark_ws.config)
    apps = spark_ws.engine.query("SELECT application_id, uscc, requested_amount, decision, amount, pd, reasons, evidence "
                                 "FROM decisions WHERE pd IS NOT NULL ORDER BY application_id LIMIT 30").to_pylist()
    assert len(apps) == 30 and len({a["decision"] for a in apps}) >= 2
    def unversioned(fields: dict[str, Any]) -> dict[str, Any]:  # each engine's run has its own run id
        return {**fields, "versions": {k: v for k, v in fields["versions"].items() if k != "run_id"}}
    for app in apps:
        served, _ = on_spark.compose_view(app["uscc"], app["requested_amount"], app["application_id"], "chain")
        duck = on_duck.compose_view(app["uscc"], app["requested_amount"], app["application_id"], "chain")[0]
        assert _same(unversioned(served), unversioned(duck)), app["application_id"]
        assert [served[k] for k in ("decision", "amount", "pd")] == [app[k] for k in ("decision", "amount", "pd")]
        assert served["reasons"] == json.loads(app["reasons"]) and served["evidence"] == json.loads(app["evidence"])


def test_resolve_quality_figures_equal_across_engines(tiny_workspace: Workspace, spark_ws: Workspace,
                                                      tiny_economy: Path) -> None:
    """``eval``'s resolve section (precision, recall, F1) reads the same on both engines."""
    from chainlight.eval import resolve as resolve_eval
    truth = tiny_economy / "truth"
    duck, spark = resolve_eval.evaluate(tiny_workspace, truth), resolve_eval.evaluate(spark_ws, truth)
    assert duck is not None and {"precision", "recall"} <= set(duck)
    assert spark == duck


def test_graph_quality_figures_equal_across_engines(tiny_workspace: Workspace, spark_ws: Workspace,
                                                    tiny_economy: Path) -> None:
    """``eval``'s graph section (edge and anchor precision/recall) reads the same on both engines."""
    from chainlight.eval import graph as graph_eval
    truth = tiny_economy / "truth"
    duck, spark = graph_eval.evaluate(tiny_workspace, truth), graph_eval.evaluate(spark_ws, truth)
    assert duck is not None and set(duck) >= {"edge_precision", "edge_recall", "anchor_precision", "anchor_recall"}
    assert spark == duck


def test_extract_and_mount_on_spark_are_not_empty(spark_ws: Workspace) -> None:
    """Guards their equality from passing on empty tables: facts of every source, line items read through
    the learned vocabulary and the sellers (pass 2), and every firm mounted with item evidence."""
    sources = {r["source"] for r in spark_ws.engine.query("SELECT DISTINCT source FROM facts").to_pylist()}
    assert sources >= {"item", "product", "report"}
    assert spark_ws.row_count("facts") > 1000
    firms = spark_ws.row_count("enterprises")
    assert spark_ws.engine.scalar("SELECT count(DISTINCT uscc) FROM mounts") > firms * 0.9
    assert spark_ws.engine.scalar("SELECT count(*) FROM mount_evidence WHERE signal = 'invoice_item'") > firms
    run = spark_ws.last_run("extract")
    assert run is not None and '"instructions_ignored"' in run["stats"]


@pytest.mark.parametrize("section", ["extract", "mount"])
def test_extract_and_mount_quality_figures_equal_across_engines(section: str, tiny_workspace: Workspace,
                                                                spark_ws: Workspace, tiny_economy: Path) -> None:
    """``eval``'s extract (precision, recall) and mount (accuracy) sections read the same on both engines."""
    import importlib
    evaluate = importlib.import_module(f"chainlight.eval.{section}").evaluate
    truth = tiny_economy / "truth"
    duck, spark = evaluate(tiny_workspace, truth), evaluate(spark_ws, truth)
    assert duck and spark == duck


def test_credit_quality_figures_equal_across_engines(tiny_workspace: Workspace, spark_ws: Workspace,
                                                     tiny_economy: Path) -> None:
    """``eval``'s credit section (AUC, KS, approval rates, gap closed) reads the same on both engines."""
    from chainlight.eval import credit
    truth = tiny_economy / "truth"
    duck, spark = credit.evaluate(tiny_workspace, truth), credit.evaluate(spark_ws, truth)
    assert duck is not None and {"auc", "auc_traditional", "approval_rate"} <= set(duck)
    assert spark == duck
