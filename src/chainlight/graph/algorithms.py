"""Iterative graph measures on the supply graph, in-process with scipy.sparse.

Each takes the edge list as index arrays (seller → buyer, amount) over ``n`` nodes, so the same
function signatures can be given an iterative-SQL implementation for the Spark engine.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra


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
