"""The iterative-SQL graph measures equal the sparse-matrix ones, on every engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import anchors_of, load_tiers, random_tiers, reference_anchors
from engines import (  # fixtures: imported, not a conftest (see engines.py)
    engine,
    engine_config,
    engine_name,
    engine_ws,
    spark_session,
)

from chainlight import tables
from chainlight.config import Config
from chainlight.engine import Engine
from chainlight.engine.transfer import copy_tables
from chainlight.graph.algorithms import anchor_flow_share, hops_to_anchor, pagerank, sql_measures
from chainlight.workspace import Workspace


def _graph(seed: int = 3, n: int = 24) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A small supply graph with a cycle, dangling firms, isolated firms and firms that reach no anchor."""
    rng = np.random.default_rng(seed)
    ids = [f"F{i:03d}" for i in range(n)]
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n - 3, size=(40, 2)) if a != b}  # last 3 isolated
    pairs |= {(0, 1), (1, 2), (2, 0)}  # a cycle
    seller = np.array([p[0] for p in sorted(pairs)])
    buyer = np.array([p[1] for p in sorted(pairs)])
    amount = rng.integers(100, 100_000, size=len(pairs)) / 100
    sales = np.bincount(seller, weights=amount, minlength=n) * 1.25 + 1.0  # some sales leave the graph
    anchors = np.array([5, 9])
    return ids, seller, buyer, amount, sales, anchors


def test_sql_measures_equal_the_sparse_ones(engine: Engine) -> None:
    ids, seller, buyer, amount, sales, anchors = _graph()
    engine.register_arrow("_t_nodes", pa.table({"uscc": ids, "sales_total": sales}))
    engine.register_arrow("_t_edges", pa.table({"seller_uscc": [ids[i] for i in seller],
                                                "buyer_uscc": [ids[i] for i in buyer], "amount": amount}))
    engine.register_arrow("_t_anchors", pa.table({"uscc": [ids[i] for i in anchors]}))
    # tolerances looser than the stage's (fewer Spark jobs); the sparse side iterates to its tighter default
    iterations = sql_measures(engine, "_t_nodes", "_t_edges", "_t_anchors", "_t_out",
                              pagerank_tolerance=1e-10, flow_tolerance=1e-10)
    got = {r["uscc"]: r for r in engine.query("SELECT * FROM _t_out").to_pylist()}
    assert sorted(got) == ids and iterations["pagerank"] > 1

    hops = hops_to_anchor(seller, buyer, len(ids), anchors)
    flow = anchor_flow_share(seller, buyer, amount, sales, anchors)
    rank = pagerank(seller, buyer, amount, len(ids))
    for i, uscc in enumerate(ids):
        row = got[uscc]
        assert row["hops_to_anchor"] == (None if np.isinf(hops[i]) else int(hops[i])), uscc
        assert abs(row["anchor_flow_share"] - flow[i]) < 1e-8, uscc
        assert abs(row["pagerank"] - rank[i]) < 1e-8, uscc
    assert any(np.isinf(hops)) and any(0 < f < 1 for f in flow)  # the graph exercises the hard cases


def test_sql_measures_on_an_empty_graph(engine: Engine) -> None:
    engine.register_arrow("_t_nodes", pa.table({"uscc": ["A", "B"], "sales_total": [0.0, 5.0]}))
    empty = pa.table({"seller_uscc": pa.array([], pa.string()), "buyer_uscc": pa.array([], pa.string()),
                      "amount": pa.array([], pa.float64())})
    engine.register_arrow("_t_edges", empty)
    engine.register_arrow("_t_anchors", pa.table({"uscc": pa.array([], pa.string())}))
    sql_measures(engine, "_t_nodes", "_t_edges", "_t_anchors", "_t_out")
    rows = engine.query("SELECT * FROM _t_out ORDER BY uscc").to_pylist()
    assert [(r["hops_to_anchor"], r["anchor_flow_share"], r["pagerank"]) for r in rows] == [(None, 0.0, 0.5), (None, 0.0, 0.5)]


@pytest.mark.parametrize("seed", [0, 2])
def test_anchor_rule_on_every_engine(engine_name: str, tmp_path: Path, seed: int) -> None:
    """anchors.sql (median, MAD, ln, greatest as transpiled) picks what the numpy reference picks on each
    engine; the tiers are ingested on DuckDB and handed over (ingest does not run on Spark)."""
    firms = random_tiers(seed)
    source = Workspace(tmp_path / "duck", Config())
    load_tiers(source, tmp_path, firms)
    target = source if engine_name == "duckdb" else Workspace(tmp_path / "ws", engine_config(engine_name))
    try:
        if target is not source:
            copy_tables(source.engine, target.engine, [*tables.INPUT_TABLES, "mounts"])
        for false_rate, most in ((0.25, 8), (0.5, 2)):
            assert anchors_of(target, anchor_false_rate=false_rate, anchor_top_k=most) == \
                reference_anchors(firms, false_rate, most), (engine_name, false_rate, most)
    finally:
        for ws in {id(source): source, id(target): target}.values():
            ws.close()
