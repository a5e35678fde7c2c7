"""Stage ``graph``: who supplies whom, how much, how steadily, and how close to the anchor enterprises.

Reads ``invoices``, ``enterprises``, ``entity_links`` (resolved invoice buyers; without it, written
the fallback of ``rules.links_view``), ``mounts`` (optional) and the chain ontology's segment edges.
Writes ``supply_edges`` and ``graph_features``.

Rules (documented, tested on hand-built graphs):
- An edge is seller → resolved buyer over normal invoices, red-letter reversals netted, voided
  ignored, self-loops dropped. ``stability`` = (active months / months spanned) / (1 + CV of the
  monthly amounts), in [0, 1]; ``trend`` = annualised slope of monthly amounts over their mean.
- ``is_supply``: amount ≥ ``graph.min_edge_amount`` and consistent with the ontology (a segment of
  the seller is upstream of, or equal to, a segment of the buyer); without mounts, recurring over
  ``graph.min_recurring_months`` months instead. Services and one-off buys fail these.
- Anchors (核心企业): the ``graph.anchors`` list, plus per chain the firms mounted on its most downstream
  making tier whose size stands out from that tier's firms: size = the mean of log turnover (sales +
  purchases on the invoices), log registered capital and log(1 + supplier count) — three noisy views
  of one scale, averaged so that no single one decides. A firm is an anchor when its size lies further
  above the tier's median, in robust standard deviations (1.4826 × the median absolute deviation, at
  least ``MIN_SPREAD``), than z = Φ⁻¹(1 − ``graph.anchor_false_rate`` / n) for a tier of n firms: were
  the tier one log-normal bulk, it would show a firm that far out with probability about
  ``anchor_false_rate`` (a Bonferroni bound), so the bar rises with the size of the economy instead of
  letting the largest of many small firms through. The largest firm of each chain always is an anchor,
  and at most ``graph.anchor_top_k`` are. So the count follows the data (a chain with one dominant maker
  gets one, a chain with five gets five) instead of a fixed top-k. Turnover, not purchases: where that
  tier is a material or component tier (chemicals), the large makers buy little inside the economy.
- Per firm: hops downstream to the nearest anchor (NULL where no supply path reaches one: no
  infinities in the tables, so they survive JSON and every engine); ``anchor_flow_share`` (share of sales that ends
  at an anchor through any chain of customers); customer/supplier counts and HHI; top-customer
  share; relationship tenure; amount-weighted PageRank (supplier → customer links); cluster (main
  segment × city, from ``graph.cluster_min_size`` firms); stable ties to large firms (anchors or
  sales ≥ ``graph.large_firm_sales``) lasting ≥ ``graph.stable_min_months`` months at stability ≥
  ``graph.stable_min_stability``; sales, purchases and 12-month sales growth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pyarrow as pa

from chainlight import ontology as ontology_stage
from chainlight import rules, tables
from chainlight.config import Config
from chainlight.engine.base import load_sql, render
from chainlight.graph.algorithms import anchor_flow_share, hops_to_anchor, pagerank
from chainlight.workspace import StageResult, Workspace

_c = tables.Column
tables.register(tables.TableSpec("supply_edges", "graph", (
    _c("seller_uscc", "VARCHAR"), _c("buyer_uscc", "VARCHAR"), _c("amount", "DOUBLE"), _c("invoice_count", "BIGINT"),
    _c("months_active", "BIGINT"), _c("first_date", "DATE"), _c("last_date", "DATE"), _c("stability", "DOUBLE"),
    _c("trend", "DOUBLE"), _c("seller_revenue_share", "DOUBLE"), _c("buyer_purchase_share", "DOUBLE"),
    _c("ontology_consistent", "BOOLEAN"), _c("is_supply", "BOOLEAN")), key=("seller_uscc", "buyer_uscc"),
    description="Who sells to whom (resolved), how much and how steadily; is_supply tells supply from noise."))
FEATURE_COLUMNS = (
    _c("uscc", "VARCHAR"), _c("chain_id", "VARCHAR"), _c("tier", "VARCHAR"), _c("is_anchor", "BOOLEAN"),
    _c("hops_to_anchor", "BIGINT"), _c("anchor_flow_share", "DOUBLE"), _c("customer_count", "BIGINT"),
    _c("supplier_count", "BIGINT"), _c("customer_hhi", "DOUBLE"), _c("top_customer_share", "DOUBLE"),
    _c("supplier_hhi", "DOUBLE"), _c("tenure_mean_months", "DOUBLE"), _c("tenure_max_months", "DOUBLE"),
    _c("pagerank", "DOUBLE"), _c("cluster_id", "VARCHAR"), _c("cluster_size", "BIGINT"),
    _c("stable_large_ties", "BIGINT"), _c("sales_total", "DOUBLE"), _c("purchases_total", "DOUBLE"),
    _c("sales_growth", "DOUBLE"))
tables.register(tables.TableSpec("graph_features", "graph", FEATURE_COLUMNS, key=("uscc",),
                                 description="Each firm's place in the supply graph."))


def _segment_edges(ws: Workspace, cfg: Config) -> dict[str, list[str]]:
    """Register the ontology's segment edges; return each chain's most downstream making-tier segments."""
    ontology = ontology_stage.load(cfg.ontology)
    edges = ontology.edges()
    ws.engine.register_arrow("_graph_segment_edges", pa.table({
        "source_segment_id": pa.array([e.source for e in edges], pa.string()),
        "target_segment_id": pa.array([e.target for e in edges], pa.string())}))
    top: dict[str, list[str]] = {}
    for chain in ontology.chains:
        making = [s for s in chain.segments if s.tier != "retail_service"] or chain.segments
        rank = max(chain.tiers.index(s.tier) for s in making)
        top[chain.id] = [s.id for s in making if chain.tiers.index(s.tier) == rank]
    return top


def run(ws: Workspace, cfg: Config) -> StageResult:
    settings = cfg.graph
    engine = ws.engine
    top_segments = _segment_edges(ws, cfg)
    has_mounts = ws.table_exists("mounts")
    engine.execute("CREATE OR REPLACE TEMP TABLE _graph_edges AS "
                   + render(load_sql("chainlight.graph", "edges"), {"links": rules.links_view(ws), "sales": rules.sales_view(ws)}))
    if not has_mounts:
        engine.execute("CREATE OR REPLACE TEMP TABLE _graph_no_mounts (uscc VARCHAR, segment_id VARCHAR)")
    classify = render(load_sql("chainlight.graph", "classify"), {
        "edges": "_graph_edges", "mounts": "mounts" if has_mounts else "_graph_no_mounts",
        "segment_edges": "_graph_segment_edges"})
    engine.execute(f"""CREATE OR REPLACE TEMP TABLE _graph_supply AS
        SELECT *, amount >= $floor AND coalesce(ontology_consistent, months_active >= $recurring) AS is_supply
        FROM ({classify}) c""", {"floor": settings.min_edge_amount, "recurring": settings.min_recurring_months,
                                 "has_mounts": has_mounts})
    features = engine.query(render(load_sql("chainlight.graph", "features"),
                                   {"edges": "_graph_supply", "sales": rules.sales_view(ws)}) + " ORDER BY uscc")
    features = _graph_measures(ws, cfg, features, top_segments, has_mounts)
    with ws.stage("graph") as writer:
        writer.write_sql("supply_edges", "SELECT * FROM _graph_supply ORDER BY seller_uscc, buyer_uscc")
        writer.write_arrow("graph_features", features)
        writer.stats["anchors"] = int(pa.compute.sum(features.column("is_anchor")).as_py() or 0)
    return StageResult("graph", writer.run_id, dict(writer.counts), dict(writer.stats))


MIN_SPREAD = 0.25  # log units: a tier whose firms are all about one size has no outliers by rounding


def _size(turnover: np.ndarray, capital: np.ndarray, suppliers: np.ndarray) -> np.ndarray:
    """Per firm: the mean of log turnover, log registered capital (where known) and log(1 + suppliers)."""
    parts = np.vstack([np.log(np.maximum(turnover, 1.0)), np.log(np.where(capital > 0, capital, np.nan)),
                       np.log1p(suppliers)])
    known = np.isfinite(parts)
    return np.where(known, parts, 0.0).sum(axis=0) / np.maximum(known.sum(axis=0), 1)


def stand_out(candidates: np.ndarray, size: np.ndarray, ids: list[str], false_rate: float, most: int) -> list[int]:
    """The candidates whose size is further above their median than one of them would be by chance with
    probability ``false_rate`` (see the module docstring; the largest always), largest first, at most ``most``."""
    if not len(candidates) or most <= 0:
        return []
    z = NormalDist().inv_cdf(1.0 - false_rate / max(len(candidates), 2))
    order = sorted(candidates.tolist(), key=lambda i: (-size[i], ids[i]))
    values = size[candidates]
    median = float(np.median(values))
    spread = max(1.4826 * float(np.median(np.abs(values - median))), MIN_SPREAD)
    picked = [i for i in order if (size[i] - median) / spread >= z]
    return (picked or order[:1])[:most]


def _hops_column(hops: np.ndarray) -> pa.Array:
    reachable = np.isfinite(hops)
    return pa.array(np.where(reachable, hops, 0).astype(np.int64), mask=~reachable)


def _graph_measures(ws: Workspace, cfg: Config, features: pa.Table, top_segments: dict[str, list[str]],
                    has_mounts: bool) -> pa.Table:
    settings = cfg.graph
    engine = ws.engine
    ids = features.column("uscc").to_pylist()
    index = {u: i for i, u in enumerate(ids)}
    n = len(ids)
    main = {r["uscc"]: r for r in engine.query(
        "SELECT m.uscc, m.segment_id, m.chain_id, m.tier, e.city FROM mounts m JOIN enterprises e USING (uscc) "
        "WHERE m.rank = 1").to_pylist()} if has_mounts else {}
    edges = engine.query("SELECT seller_uscc, buyer_uscc, amount, months_active, stability FROM _graph_supply "
                         "WHERE is_supply ORDER BY seller_uscc, buyer_uscc").to_pydict()  # fixed order: same sums
    seller = np.array([index[u] for u in edges["seller_uscc"]], dtype=np.int64)
    buyer = np.array([index[u] for u in edges["buyer_uscc"]], dtype=np.int64)
    amount = np.array(edges["amount"], dtype=float)
    sales = np.array(features.column("sales_total").to_pylist(), dtype=float)
    purchases = np.array(features.column("purchases_total").to_pylist(), dtype=float)

    is_anchor = np.zeros(n, bool)
    for uscc in settings.anchors:
        if uscc in index:
            is_anchor[index[uscc]] = True
    capital = {r["uscc"]: r["registered_capital"] for r in engine.query(
        "SELECT uscc, registered_capital FROM enterprises WHERE registered_capital > 0").to_pylist()}
    size = _size(sales + purchases, np.array([capital.get(u, np.nan) for u in ids], dtype=float),
                 features.column("supplier_count").to_numpy(zero_copy_only=False).astype(float))
    for chain, segments in top_segments.items():
        candidates = np.array([index[u] for u, m in main.items() if m["chain_id"] == chain
                               and m["segment_id"] in segments and sales[index[u]] + purchases[index[u]] > 0], np.int64)
        for i in stand_out(candidates, size, ids, settings.anchor_false_rate, settings.anchor_top_k):
            is_anchor[i] = True
    anchors = np.nonzero(is_anchor)[0]

    large = is_anchor | (sales >= settings.large_firm_sales)
    stable = (np.array(edges["months_active"]) >= settings.stable_min_months) & \
        (np.array(edges["stability"], dtype=float) >= settings.stable_min_stability) & large[buyer]
    stable_ties = np.bincount(seller[stable], minlength=n)

    cluster_key = [f"{main[u]['segment_id']}@{main[u]['city']}" if u in main and main[u]["city"] else None for u in ids]
    sizes: dict[str, int] = {}
    for key in cluster_key:
        if key:
            sizes[key] = sizes.get(key, 0) + 1
    cluster_id = [k if k and sizes[k] >= settings.cluster_min_size else None for k in cluster_key]
    extra = {
        "chain_id": pa.array([main.get(u, {}).get("chain_id") for u in ids], pa.string()),
        "tier": pa.array([main.get(u, {}).get("tier") for u in ids], pa.string()),
        "is_anchor": pa.array(is_anchor),
        "hops_to_anchor": _hops_column(hops_to_anchor(seller, buyer, n, anchors)),
        "anchor_flow_share": pa.array(anchor_flow_share(seller, buyer, amount, sales, anchors)),
        "pagerank": pa.array(pagerank(seller, buyer, amount, n)),
        "cluster_id": pa.array(cluster_id, pa.string()),
        "cluster_size": pa.array([sizes[k] if k else None for k in cluster_id], pa.int64()),
        "stable_large_ties": pa.array(stable_ties.astype(np.int64)),
    }
    for name, column in extra.items():
        features = features.append_column(name, column)
    return features.select([c.name for c in FEATURE_COLUMNS])


@dataclass
class Subgraph:
    center: str
    nodes: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)


def subgraph(ws: Workspace, uscc: str, hops_up: int = 2, hops_down: int = 2, min_amount: float = 0.0) -> Subgraph:
    """Supply edges within k hops up (suppliers) and down (customers) of one firm, with volumes."""
    found: dict[tuple[str, str], dict] = {}
    for direction, hops in (("down", hops_down), ("up", hops_up)):
        frontier = [uscc]
        near, far = ("seller_uscc", "buyer_uscc") if direction == "down" else ("buyer_uscc", "seller_uscc")
        for _ in range(hops):
            if not frontier:
                break
            rows = ws.engine.query(
                f"SELECT seller_uscc, buyer_uscc, amount, stability, months_active FROM supply_edges "
                f"WHERE is_supply AND amount >= $min AND list_contains($frontier, {near})",
                {"min": min_amount, "frontier": frontier}).to_pylist()
            frontier = sorted({r[far] for r in rows} - {uscc})
            for row in rows:
                found[(row["seller_uscc"], row["buyer_uscc"])] = row
    members = sorted({uscc} | {u for pair in found for u in pair})
    nodes = ws.engine.query(
        "SELECT e.uscc, e.name, f.chain_id, f.tier, f.is_anchor, m.segment_id FROM enterprises e "
        "LEFT JOIN graph_features f USING (uscc) LEFT JOIN (SELECT * FROM mounts WHERE rank = 1) m USING (uscc) "
        "WHERE list_contains($members, e.uscc) ORDER BY e.uscc", {"members": members}).to_pylist() \
        if ws.table_exists("mounts") else ws.engine.query(
        "SELECT e.uscc, e.name, f.chain_id, f.tier, f.is_anchor FROM enterprises e LEFT JOIN graph_features f USING (uscc) "
        "WHERE list_contains($members, e.uscc) ORDER BY e.uscc", {"members": members}).to_pylist()
    return Subgraph(uscc, nodes, [found[k] for k in sorted(found)])
