"""Iterative graph measures on the supply graph: in-process with scipy.sparse, or as iterative SQL.

The sparse functions take the edge list as index arrays (seller → buyer, amount) over ``n`` nodes; the
``sql_*`` functions compute the same measures with joins and aggregations through any engine, so that
on Spark nothing is collected to the driver. The graph stage uses the sparse path on an in-process
engine (DuckDB), where it is much faster (a few sparse products against one query per iteration), and
the SQL path elsewhere; tests/engine checks that both give the same figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from chainlight.engine.base import Engine, check_identifier


def _matrix(seller: np.ndarray, buyer: np.ndarray, amount: np.ndarray, n: int) -> sp.csr_matrix:
    return sp.csr_matrix((amount, (seller, buyer)), shape=(n, n))


def hops_to_anchor(seller: np.ndarray, buyer: np.ndarray, n: int, anchors: np.ndarray) -> np.ndarray:
    """Fewest supply hops from each firm downstream to any anchor (0 for anchors, inf if none)."""
    if not len(anchors):
        return np.full(n, np.inf)
    graph = _matrix(seller, buyer, np.ones(len(seller)), n)
    # distances from the anchors upstream = distances to the anchors downstream
    return dijkstra(graph.T.tocsr(), directed=True, indices=anchors, unweighted=True, min_only=True)


def anchor_flow_share(seller: np.ndarray, buyer: np.ndarray, amount: np.ndarray, sales_total: np.ndarray,
                      anchors: np.ndarray, *, tolerance: float = 1e-10, max_iterations: int = 200) -> np.ndarray:
    """Share of each firm's sales that ends up at an anchor, directly or through its customers.

    flow(i) = Σ_j share(i→j) · (1 if j is an anchor else flow(j)), share = amount / i's total sales.
    Anchors absorb (their own flow is 1); cycles converge because some sales always leave the graph.
    """
    n = len(sales_total)
    share = _matrix(seller, buyer, amount / np.maximum(sales_total[seller], 1e-9), n)
    is_anchor = np.zeros(n, bool)
    is_anchor[anchors] = True
    flow = np.zeros(n)
    for _ in range(max_iterations):
        reaching = np.where(is_anchor, 1.0, flow)
        updated = np.minimum(share @ reaching, 1.0)
        updated[is_anchor] = 1.0
        if np.abs(updated - flow).max(initial=0.0) < tolerance:
            flow = updated
            break
        flow = updated
    return flow


def pagerank(seller: np.ndarray, buyer: np.ndarray, amount: np.ndarray, n: int, *, damping: float = 0.85,
             tolerance: float = 1e-12, max_iterations: int = 200) -> np.ndarray:
    """Amount-weighted PageRank with links from supplier to customer (as networkx.pagerank)."""
    if n == 0:
        return np.zeros(0)
    graph = _matrix(seller, buyer, amount, n)
    out_weight = np.asarray(graph.sum(axis=1)).ravel()
    dangling = out_weight == 0
    transition = sp.diags(np.where(dangling, 0.0, 1.0 / np.maximum(out_weight, 1e-300))) @ graph
    rank = np.full(n, 1.0 / n)
    for _ in range(max_iterations):
        updated = damping * (transition.T @ rank + rank[dangling].sum() / n) + (1 - damping) / n
        if np.abs(updated - rank).sum() < tolerance * n:
            return updated
        rank = updated
    return rank


# -- the same measures as iterative SQL (joins and aggregations), for engines that are not in-process ----
# Inputs are tables: ``nodes`` (uscc, sales_total), ``edges`` (seller_uscc, buyer_uscc, amount; supply
# edges only, no self-loops) and ``anchors`` (uscc). Each iteration is materialised as a temporary table,
# so the plan stays one join deep; sums of fractions go through DECIMAL(38, 30), which adds exactly in any
# order, so a rerun on any number of partitions gives the same bits and the same number of iterations.

_EXACT = "DECIMAL(38, 30)"


def sql_measures(engine: Engine, nodes: str, edges: str, anchors: str, out: str, *, damping: float = 0.85,
                 pagerank_tolerance: float = 1e-12, flow_tolerance: float = 1e-10, max_iterations: int = 200) -> dict[str, int]:
    """Write ``out`` (uscc, hops_to_anchor, anchor_flow_share, pagerank); return the iterations each took."""
    for name in (nodes, edges, anchors, out):
        check_identifier(name)
    iterations = {"hops": sql_hops_to_anchor(engine, edges, anchors, "_algo_hops", max_iterations=max_iterations),
                  "flow": sql_anchor_flow_share(engine, nodes, edges, anchors, "_algo_flow",
                                                tolerance=flow_tolerance, max_iterations=max_iterations),
                  "pagerank": sql_pagerank(engine, nodes, edges, "_algo_pagerank", damping=damping,
                                           tolerance=pagerank_tolerance, max_iterations=max_iterations)}
    engine.execute(f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT n.uscc, h.hops AS hops_to_anchor, f.flow AS anchor_flow_share, p.rank AS pagerank
        FROM {nodes} n LEFT JOIN _algo_hops h ON h.uscc = n.uscc
        JOIN _algo_flow f ON f.uscc = n.uscc JOIN _algo_pagerank p ON p.uscc = n.uscc""")
    return iterations


def sql_hops_to_anchor(engine: Engine, edges: str, anchors: str, out: str, *, max_iterations: int = 1000) -> int:
    """Breadth-first search upstream from the anchors: ``out`` (uscc, hops) for the firms that reach one."""
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT DISTINCT uscc, CAST(0 AS BIGINT) AS hops FROM {anchors}")
    engine.execute(f"CREATE OR REPLACE TEMP TABLE _algo_frontier AS SELECT uscc FROM {out}")
    for hop in range(1, max_iterations + 1):
        engine.execute(f"""CREATE OR REPLACE TEMP TABLE _algo_frontier AS
            SELECT DISTINCT e.seller_uscc AS uscc
            FROM {edges} e JOIN _algo_frontier f ON f.uscc = e.buyer_uscc
            LEFT JOIN {out} seen ON seen.uscc = e.seller_uscc
            WHERE seen.uscc IS NULL""")
        if not engine.scalar("SELECT count(*) FROM _algo_frontier"):
            return hop
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT uscc, hops FROM {out} "
                       "UNION ALL SELECT uscc, CAST($hop AS BIGINT) FROM _algo_frontier", {"hop": hop})
    return max_iterations


def sql_anchor_flow_share(engine: Engine, nodes: str, edges: str, anchors: str, out: str, *,
                          tolerance: float = 1e-10, max_iterations: int = 200) -> int:
    """``anchor_flow_share`` by fixed-point iteration over the share-of-sales matrix, as the sparse version."""
    engine.execute(f"""CREATE OR REPLACE TEMP TABLE _algo_share AS
        SELECT e.seller_uscc, e.buyer_uscc, e.amount / greatest(n.sales_total, 1e-9) AS share,
               a.uscc IS NOT NULL AS to_anchor
        FROM {edges} e JOIN {nodes} n ON n.uscc = e.seller_uscc LEFT JOIN (SELECT DISTINCT uscc FROM {anchors}) a
          ON a.uscc = e.buyer_uscc""")
    engine.execute(f"""CREATE OR REPLACE TEMP TABLE _algo_anchor_flag AS
        SELECT n.uscc, a.uscc IS NOT NULL AS is_anchor FROM {nodes} n
        LEFT JOIN (SELECT DISTINCT uscc FROM {anchors}) a ON a.uscc = n.uscc""")
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT uscc, CAST(0 AS DOUBLE) AS flow FROM {nodes}")
    def step(current: str) -> str:
        return f"""WITH reach AS (
                SELECT s.seller_uscc AS uscc,
                       CAST(sum(CAST(s.share * CASE WHEN s.to_anchor THEN 1.0 ELSE f.flow END AS {_EXACT})) AS DOUBLE) AS v
                FROM _algo_share s JOIN {current} f ON f.uscc = s.buyer_uscc GROUP BY 1)
            SELECT n.uscc, CASE WHEN n.is_anchor THEN 1.0 ELSE least(coalesce(r.v, 0.0), 1.0) END AS flow,
                   abs(CASE WHEN n.is_anchor THEN 1.0 ELSE least(coalesce(r.v, 0.0), 1.0) END - c.flow) AS change
            FROM _algo_anchor_flag n JOIN {current} c ON c.uscc = n.uscc LEFT JOIN reach r ON r.uscc = n.uscc"""
    return _iterate(engine, out, "flow", step, "max(change)", tolerance, {}, max_iterations)


def _iterate(engine: Engine, out: str, column: str, step: Callable[[str], str], change: str, limit: float,
             params: dict[str, Any], max_iterations: int) -> int:
    """Run ``step`` (the SELECT of the next iteration, with a ``change`` column, from the table it is given)
    from ``out`` until the aggregate ``change`` falls below ``limit``; leave the result in ``out``.
    Two temporary tables alternate, so each iteration is one materialised table and one small query."""
    current, spare = out, "_algo_next"
    iteration = 0
    while iteration < max_iterations:
        iteration += 1
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {spare} AS {step(current)}", params)
        current, spare = spare, current
        if (engine.scalar(f"SELECT {change} FROM {current}") or 0.0) < limit:
            break
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT uscc, {column} FROM {current}")
    return iteration


def sql_pagerank(engine: Engine, nodes: str, edges: str, out: str, *, damping: float = 0.85,
                 tolerance: float = 1e-12, max_iterations: int = 200) -> int:
    """Amount-weighted PageRank (supplier → customer), the same update and stopping rule as ``pagerank``."""
    n = int(engine.scalar(f"SELECT count(*) FROM {nodes}") or 0)
    if n == 0:
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT uscc, CAST(NULL AS DOUBLE) AS rank FROM {nodes}")
        return 0
    engine.execute(f"""CREATE OR REPLACE TEMP TABLE _algo_out AS
        SELECT seller_uscc AS uscc, sum(CAST(round(amount * 100) AS DECIMAL(38, 0))) AS w FROM {edges} GROUP BY 1""")
    engine.execute(f"""CREATE OR REPLACE TEMP TABLE _algo_step AS
        SELECT e.seller_uscc, e.buyer_uscc, CAST(round(e.amount * 100) AS DOUBLE) / CAST(o.w AS DOUBLE) AS p
        FROM {edges} e JOIN _algo_out o ON o.uscc = e.seller_uscc""")
    engine.execute(f"""CREATE OR REPLACE TEMP TABLE _algo_dangling AS
        SELECT n.uscc, o.uscc IS NULL AS dangling FROM {nodes} n LEFT JOIN _algo_out o ON o.uscc = n.uscc""")
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT uscc, CAST(1.0 AS DOUBLE) / $n AS rank FROM {nodes}",
                   {"n": n})
    def step(current: str) -> str:
        return f"""WITH mass AS (
                SELECT CAST(coalesce(sum(CAST(r.rank AS {_EXACT})), 0) AS DOUBLE) AS m
                FROM {current} r JOIN _algo_dangling d ON d.uscc = r.uscc WHERE d.dangling
            ), inflow AS (
                SELECT s.buyer_uscc AS uscc, CAST(sum(CAST(r.rank * s.p AS {_EXACT})) AS DOUBLE) AS v
                FROM _algo_step s JOIN {current} r ON r.uscc = s.seller_uscc GROUP BY 1
            ), updated AS (
                SELECT r.uscc, r.rank AS previous, $d * (coalesce(i.v, 0.0) + m.m / $n) + (1 - $d) / $n AS rank
                FROM {current} r CROSS JOIN mass m LEFT JOIN inflow i ON i.uscc = r.uscc
            )
            SELECT uscc, rank, abs(rank - previous) AS change FROM updated"""
    return _iterate(engine, out, "rank", step, f"CAST(sum(CAST(change AS {_EXACT})) AS DOUBLE)", tolerance * n,
                    {"d": damping, "n": n}, max_iterations)


def in_process_measures(engine: Engine, nodes: str, edges: str, anchors: str, out: str) -> None:
    """The same ``out`` table from the sparse-matrix functions above, for an in-process engine."""
    node_rows = engine.query(f"SELECT uscc, sales_total FROM {check_identifier(nodes)} ORDER BY uscc").to_pydict()
    ids = node_rows["uscc"]
    index = {u: i for i, u in enumerate(ids)}
    rows = engine.query(f"SELECT seller_uscc, buyer_uscc, amount FROM {check_identifier(edges)} "
                        "ORDER BY seller_uscc, buyer_uscc").to_pydict()  # fixed order: same sums
    seller = np.array([index[u] for u in rows["seller_uscc"]], dtype=np.int64)
    buyer = np.array([index[u] for u in rows["buyer_uscc"]], dtype=np.int64)
    amount = np.array(rows["amount"], dtype=float)
    sales = np.array(node_rows["sales_total"], dtype=float)
    anchor_ids = sorted({index[u] for u in engine.query(f"SELECT uscc FROM {check_identifier(anchors)}").column(0).to_pylist()
                         if u in index})
    anchor_index = np.array(anchor_ids, dtype=np.int64)
    hops = hops_to_anchor(seller, buyer, len(ids), anchor_index)
    reachable = np.isfinite(hops)
    engine.register_arrow(check_identifier(out), pa.table({
        "uscc": pa.array(ids, pa.string()),
        "hops_to_anchor": pa.array(np.where(reachable, hops, 0).astype(np.int64), mask=~reachable),
        "anchor_flow_share": pa.array(anchor_flow_share(seller, buyer, amount, sales, anchor_index)),
        "pagerank": pa.array(pagerank(seller, buyer, amount, len(ids)))}))
