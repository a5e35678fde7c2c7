"""The supply graph on tiny hand-built graphs with known answers, plus the story firm's path."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from conftest import anchors_of, load_tables, load_tiers, make_uscc, random_tiers, reference_anchors, table_digest

from chainlight import graph
from chainlight.config import Config, GraphSettings
from chainlight.errors import StageError
from chainlight.graph.algorithms import anchor_flow_share, pagerank
from chainlight.synth import STORY_FIRM_NAME
from chainlight.workspace import StageWriter, Workspace

A, B, C, X, S = (make_uscc(i) for i in range(11, 16))  # X is the anchor; S only buys services


def inv(n: int, seller: str, buyer: str, amount: float, month: int = 1, status: str = "normal") -> dict:
    return {"invoice_id": f"G{n}", "seller_uscc": seller, "buyer_name": f"买方{buyer[-4:]}", "buyer_uscc": buyer,
            "item_name": "货物", "amount": amount, "issue_date": f"2024-{month:02d}-15", "status": status}


@pytest.fixture
def built(ws: Workspace, tmp_path: Path) -> Workspace:
    invoices = [
        inv(1, A, B, 60, 1), inv(2, A, B, 40, 2), inv(3, A, B, 20, 3), inv(4, A, B, -20, 3, "red"),
        inv(5, B, X, 25, 1), inv(6, B, X, 25, 2), inv(7, B, C, 25, 1), inv(8, B, C, 25, 3),
        inv(9, A, C, 1000, 2, "voided"), inv(10, A, A, 500, 2),
        inv(13, X, S, 5, 4),
    ]
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": u, "name": f"企业{u[-4:]}有限公司"} for u in (A, B, C, X, S)],
        "invoices": invoices})
    cfg = Config(graph=GraphSettings(anchors=[X], anchor_top_k=0, min_edge_amount=0, min_recurring_months=1))
    graph.run(ws, cfg)
    return ws


def features(ws: Workspace) -> dict[str, dict]:
    return {r["uscc"]: r for r in ws.engine.query("SELECT * FROM graph_features").to_pylist()}


def edge(ws: Workspace, seller: str, buyer: str) -> dict | None:
    rows = ws.engine.query("SELECT * FROM supply_edges WHERE seller_uscc = $s AND buyer_uscc = $b",
                           {"s": seller, "b": buyer}).to_pylist()
    return rows[0] if rows else None


def test_voided_ignored_red_netted_self_loops_dropped(built: Workspace) -> None:
    assert edge(built, A, C) is None
    assert edge(built, A, A) is None
    ab = edge(built, A, B)
    assert ab["amount"] == 100 and ab["invoice_count"] == 3 and ab["months_active"] == 2  # month 3 nets to 0


def test_flow_share_through_two_hops(built: Workspace) -> None:
    f = features(built)
    assert f[B]["anchor_flow_share"] == pytest.approx(0.5)
    assert f[A]["anchor_flow_share"] == pytest.approx(0.5)  # all of A's sales go to B; half of B's reach X
    assert f[X]["anchor_flow_share"] == 1.0
    assert f[C]["anchor_flow_share"] == 0.0  # C sells nothing


def test_distance_to_anchor(built: Workspace) -> None:
    f = features(built)
    assert (f[X]["hops_to_anchor"], f[B]["hops_to_anchor"], f[A]["hops_to_anchor"]) == (0, 1, 2)
    assert f[C]["hops_to_anchor"] is None and f[S]["hops_to_anchor"] is None  # no path: NULL, not inf


def test_concentration_and_counts(built: Workspace) -> None:
    f = features(built)
    assert f[B]["customer_count"] == 2 and f[B]["customer_hhi"] == pytest.approx(0.5)
    assert f[B]["top_customer_share"] == pytest.approx(0.5)
    assert f[A]["customer_hhi"] == pytest.approx(1.0) and f[A]["supplier_count"] == 0 and f[B]["supplier_count"] == 1
    assert f[B]["supplier_hhi"] == pytest.approx(1.0)



def test_edge_shares_and_stability(built: Workspace) -> None:
    bx = edge(built, B, X)
    assert bx["seller_revenue_share"] == pytest.approx(0.5) and bx["buyer_purchase_share"] == pytest.approx(1.0)
    assert bx["stability"] == pytest.approx(1.0)  # two equal months in a two-month span
    bc = edge(built, B, C)  # months 1 and 3: active 2 of 3
    assert bc["stability"] == pytest.approx(2 / 3)
    ab = edge(built, A, B)  # 60, 40, 0 (20 − 20): falling
    assert ab["trend"] < 0


def test_anchor_from_config(built: Workspace) -> None:
    assert [u for u, r in features(built).items() if r["is_anchor"]] == [X]


def test_anchor_by_turnover_where_the_top_tier_sells(ws: Workspace, tmp_path: Path) -> None:
    """Chemicals' most downstream making tier is coatings: its large makers sell and buy little in the data,
    so the anchor must be picked by turnover, not by purchases (a small coatings trader buys more)."""
    big, small, customer, supplier = A, B, C, X
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": u, "name": f"企业{u[-4:]}有限公司"} for u in (big, small, customer, supplier)],
        "invoices": [inv(1, big, customer, 900_000_000), inv(2, supplier, small, 2_000_000)]})
    ws.engine.execute(f"""CREATE TABLE mounts AS SELECT * FROM (VALUES
        ('{big}', 'chemicals.coatings', 'chemicals', 'component', 1.0, 1.0, 1),
        ('{small}', 'chemicals.coatings', 'chemicals', 'component', 1.0, 1.0, 1),
        ('{customer}', 'automotive.vehicle_assembly', 'automotive', 'assembly', 1.0, 1.0, 1),
        ('{supplier}', 'chemicals.resins', 'chemicals', 'material', 1.0, 1.0, 1))
        AS t(uscc, segment_id, chain_id, tier, share, confidence, rank)""")
    graph.run(ws, Config(graph=GraphSettings(anchor_top_k=1, min_edge_amount=0, min_recurring_months=1)))
    f = features(ws)
    assert [u for u in (big, small, supplier) if f[u]["is_anchor"]] == [big]


def test_pagerank_matches_networkx() -> None:
    seller = np.array([0, 0, 1, 2, 3, 1])
    buyer = np.array([1, 2, 2, 0, 2, 3])
    amount = np.array([3.0, 1.0, 2.0, 1.0, 5.0, 1.0])
    g = nx.DiGraph()
    g.add_nodes_from(range(5))
    for s, b, a in zip(seller, buyer, amount, strict=True):
        g.add_edge(int(s), int(b), weight=float(a))
    expected = nx.pagerank(g, weight="weight", tol=1e-12)
    ours = pagerank(seller, buyer, amount, 5)
    assert ours == pytest.approx([expected[i] for i in range(5)], abs=1e-8)


def test_flow_converges_on_cycles() -> None:
    seller, buyer = np.array([0, 1, 1]), np.array([1, 0, 2])
    amount = np.array([10.0, 5.0, 5.0])
    flow = anchor_flow_share(seller, buyer, amount, np.array([10.0, 10.0, 0.0]), np.array([2]))
    # f1 = 0.5·f0 + 0.5, f0 = f1 ⇒ f0 = f1 = 1
    assert flow == pytest.approx([1.0, 1.0, 1.0])


def test_clusters_from_mounts(ws: Workspace, tmp_path: Path) -> None:
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": u, "name": f"企业{u[-4:]}有限公司", "city": "嘉兴"} for u in (A, B, C)],
        "invoices": [inv(1, A, B, 100), inv(2, B, C, 100)]})
    ws.engine.execute("CREATE TABLE mounts AS SELECT uscc, 'automotive.engineering_plastics' AS segment_id, "
                      "'automotive' AS chain_id, 'material' AS tier, 1.0 AS share, 1.0 AS confidence, 1 AS rank "
                      "FROM enterprises")
    graph.run(ws, Config(graph=GraphSettings(cluster_min_size=3, min_edge_amount=0)))
    f = features(ws)
    assert {f[u]["cluster_id"] for u in (A, B, C)} == {"automotive.engineering_plastics@嘉兴"}
    assert f[A]["cluster_size"] == 3
    assert edge(ws, A, B)["ontology_consistent"] is True  # same segment counts as consistent


def test_subgraph_hops(built: Workspace) -> None:
    down = graph.subgraph(built, A, hops_up=0, hops_down=2)
    assert {(e["seller_uscc"], e["buyer_uscc"]) for e in down.edges} == {(A, B), (B, X), (B, C)}
    up = graph.subgraph(built, X, hops_up=1, hops_down=0)
    assert {(e["seller_uscc"], e["buyer_uscc"]) for e in up.edges} == {(B, X)}
    assert {n["uscc"] for n in up.nodes} == {B, X}


def test_stage_is_deterministic(built: Workspace) -> None:
    before = {t: table_digest(built, t) for t in ("supply_edges", "graph_features")}
    graph.run(built, Config(graph=GraphSettings(anchors=[X], anchor_top_k=0, min_edge_amount=0,
                                                min_recurring_months=1)))
    assert {t: table_digest(built, t) for t in ("supply_edges", "graph_features")} == before


def test_stage_failing_midway_leaves_the_previous_tables(built: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """supply_edges is already built aside when writing graph_features fails: neither may be swapped in."""
    before = {t: (table_digest(built, t), built.engine.scalar(f"SELECT min(run_id) FROM {t}"))
              for t in ("supply_edges", "graph_features")}
    written: list[str] = []
    real_write_sql = StageWriter.write_sql

    def write_sql(self: StageWriter, table: str, *args: object, **kwargs: object) -> int:
        if table == "graph_features":
            raise RuntimeError(f"disk full while writing {table}")
        written.append(table)
        return real_write_sql(self, table, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StageWriter, "write_sql", write_sql)
    # a config whose tables would differ (no edge is supply), so a partial swap would show
    with pytest.raises(StageError, match="disk full while writing graph_features"):
        graph.run(built, Config(graph=GraphSettings(anchors=[], anchor_top_k=0, min_edge_amount=1e9)))
    assert written == ["supply_edges"]  # it failed midway, after one new table was built
    after = {t: (table_digest(built, t), built.engine.scalar(f"SELECT min(run_id) FROM {t}"))
             for t in ("supply_edges", "graph_features")}
    assert after == before
    assert not [t for t in built.engine.query("SELECT table_name FROM information_schema.tables").column(0).to_pylist()
                if t.startswith("__new_")]
    assert built.engine.scalar("SELECT status FROM runs WHERE stage = 'graph' ORDER BY started_at DESC LIMIT 1") == "failed"


def test_story_firm_path_to_the_anchor(tiny_workspace: Workspace) -> None:
    uscc = tiny_workspace.engine.scalar("SELECT uscc FROM enterprises WHERE name = $n", {"n": STORY_FIRM_NAME})
    sub = graph.subgraph(tiny_workspace, uscc, hops_up=0, hops_down=2)
    nodes = {n["uscc"]: n for n in sub.nodes}
    paths = [(e1, e2) for e1 in sub.edges for e2 in sub.edges
             if e1["seller_uscc"] == uscc and e2["seller_uscc"] == e1["buyer_uscc"] and nodes[e2["buyer_uscc"]]["is_anchor"]]
    assert any(nodes[e1["buyer_uscc"]]["name"] == "宁波恒驰汽车部件有限公司" for e1, _ in paths)


def test_eval_on_the_tiny_economy(tiny_workspace: Workspace, tiny_economy: Path) -> None:
    from chainlight.eval.graph import evaluate
    figures = evaluate(tiny_workspace, tiny_economy / "truth")
    assert figures["edge_precision"] >= 0.95 and figures["edge_recall"] >= 0.95


def test_tenure_stable_ties_and_growth(ws: Workspace, tmp_path: Path) -> None:
    invoices = [inv(100 + m, A, X, 50, m) for m in range(1, 8)]  # 7 steady months to the anchor
    invoices += [{**inv(200, B, A, 100, 1), "issue_date": "2023-06-15"},
                 {**inv(201, B, A, 150, 1), "issue_date": "2024-06-15"}]
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": u, "name": f"企业{u[-4:]}有限公司"} for u in (A, B, X)], "invoices": invoices})
    graph.run(ws, Config(graph=GraphSettings(anchors=[X], anchor_top_k=0, min_edge_amount=0, min_recurring_months=1)))
    f = features(ws)
    assert f[A]["tenure_max_months"] == 7 and f[A]["stable_large_ties"] == 1
    assert f[B]["stable_large_ties"] == 0  # A is not large
    assert f[B]["sales_growth"] == pytest.approx(0.5)  # 150 in the last 12 months against 100 before
    assert f[B]["tenure_max_months"] == 13


def test_anchor_count_follows_the_data(ws: Workspace, tmp_path: Path) -> None:
    """Two chains, each with 12 small makers on its top tier: automotive has one dominant maker, textiles
    five; a fixed top-k would get one of them wrong, the outlier rule gets both."""
    rng = np.random.default_rng(3)
    firms: list[tuple[str, str, float, float | None]] = []
    for chain_segment, big in (("automotive.vehicle_assembly", [8e9]), ("textiles.garments", [9e9, 7e9, 5e9, 4e9, 3e9])):
        firms += [(make_uscc(200 + len(firms) + k), chain_segment, s, s * 0.1) for k, s in enumerate(big)]
        firms += [(make_uscc(200 + len(firms) + k), chain_segment, s, s * 0.1)
                  for k, s in enumerate(rng.uniform(2e7, 2e8, 12).tolist())]
    load_tiers(ws, tmp_path, firms)
    assert anchors_of(ws) == {u for u, _, s, _ in firms if s >= 1e9}
    assert anchors_of(ws, anchor_top_k=2) == {u for u, _, s, _ in firms if s >= 7e9}  # at most 2 per chain


@pytest.mark.parametrize("seed", range(4))
def test_anchor_sql_agrees_with_the_reference(ws: Workspace, tmp_path: Path, seed: int) -> None:
    """Random tiers (odd and even sizes, some capital unknown, a few large makers or none): the SQL rule
    picks what the numpy reference picks, at several false rates and caps (tests/engine: on Spark too)."""
    firms = random_tiers(seed)
    load_tiers(ws, tmp_path, firms)
    for false_rate, most in ((0.25, 8), (0.05, 8), (0.5, 2)):
        assert anchors_of(ws, anchor_false_rate=false_rate, anchor_top_k=most) == \
            reference_anchors(firms, false_rate, most), (false_rate, most)


def test_anchor_edge_cases(ws: Workspace, tmp_path: Path) -> None:
    """A tier of equal firms has no outlier: only the largest (first uscc) is an anchor; a tier that does not
    trade has none; a cap of 0 leaves only the configured list."""
    alike = [(make_uscc(400 + k), "automotive.vehicle_assembly", 5e7, 5e6) for k in range(4)]
    idle = [(make_uscc(410 + k), "textiles.garments", 0.0, 5e6) for k in range(3)]
    load_tiers(ws, tmp_path, alike + idle)
    assert anchors_of(ws) == {alike[0][0]}
    assert anchors_of(ws, anchor_top_k=0) == set()
    assert anchors_of(ws, anchor_top_k=0, anchors=[idle[1][0]]) == {idle[1][0]}


def _core_firm_economy(ws: Workspace, folder: Path, big_sales: tuple[float, ...] = (3e8,)) -> dict[str, str]:
    """One top tier (vehicle assembly) of 12 small makers plus three larger buyers, with their suppliers
    (powertrain parts makers) and sales to retail buyers outside the registry:
    - ``big`` (and ``big2``… for more ``big_sales``): the largest turnover and capital, 2 suppliers each that sell
      it 10% of their output once;
    - ``core``: smaller than ``big``, 60 suppliers that sell it 80% of their output every month for 3 years;
    - ``broad``: twice ``core``'s suppliers, but each sells it 5% of its output, once (a trader's suppliers).
    """
    rng = np.random.default_rng(11)
    makers = [(make_uscc(500 + k), float(s)) for k, s in enumerate(rng.uniform(2e7, 2e8, 12).round(2))]
    bigs = {("big" if k == 0 else f"big{k + 1}"): make_uscc(530 + k) for k in range(len(big_sales))}
    core, broad = make_uscc(521), make_uscc(522)
    top = [*makers, *zip(bigs.values(), big_sales, strict=True), (core, 1.5e8), (broad, 1.5e8)]
    invoices: list[dict] = []

    def sale(seller: str, buyer: str | None, amount: float, month: int) -> None:
        invoices.append({"invoice_id": f"K{len(invoices)}", "seller_uscc": seller, "item_name": "货物",
                         "buyer_name": f"买方{buyer[-4:]}" if buyer else "零售客户", "buyer_uscc": buyer or "",
                         "amount": amount, "issue_date": f"{2023 + month // 12}-{month % 12 + 1:02d}-15",
                         "status": "normal"})

    for uscc, sales in top:
        sale(uscc, None, sales, 6)
    suppliers: list[str] = []
    for k in range(60):  # core's suppliers: 36 months × ¥50k to core, ¥450k to retail buyers (80% dependent)
        suppliers.append(make_uscc(600 + k))
        for month in range(36):
            sale(suppliers[-1], core, 50_000, month)
        sale(suppliers[-1], None, 450_000, 0)
    for k in range(120):  # broad's suppliers: one ¥100k sale to broad, ¥1.9M to retail buyers (5%)
        suppliers.append(make_uscc(700 + k))
        sale(suppliers[-1], broad, 100_000, 3)
        sale(suppliers[-1], None, 1_900_000, 0)
    for k, buyer in enumerate(bigs.values()):  # the bigs' suppliers: one sale, 10% of their output
        for j in range(2):
            suppliers.append(make_uscc(900 + 2 * k + j))
            sale(suppliers[-1], buyer, 100_000, 3)
            sale(suppliers[-1], None, 900_000, 0)
    load_tables(ws, folder, {
        "enterprises": [{"uscc": u, "name": f"企业{u[-6:]}有限公司", "registered_capital": s * 0.1} for u, s in top]
        + [{"uscc": u, "name": f"企业{u[-6:]}有限公司"} for u in suppliers], "invoices": invoices})
    ws.engine.execute("CREATE OR REPLACE TABLE mounts (uscc VARCHAR, segment_id VARCHAR, chain_id VARCHAR, tier VARCHAR, "
                      "share DOUBLE, confidence DOUBLE, rank BIGINT)")
    for u, segment, tier in [(u, "automotive.vehicle_assembly", "assembly") for u, _ in top] + \
            [(u, "automotive.powertrain_parts", "component") for u in suppliers]:
        ws.engine.execute("INSERT INTO mounts VALUES ($u, $s, 'automotive', $t, 1.0, 1.0, 1)", {"u": u, "s": segment, "t": tier})
    return {**bigs, "core": core, "broad": broad}


def test_anchor_is_the_core_firm_not_the_largest(ws: Workspace, tmp_path: Path) -> None:
    """The core firm is found though ``big`` is larger by turnover and capital and ``broad`` has twice its
    suppliers (a supplier count, the rule before, picks ``broad``): what counts is how much of their suppliers'
    output they hold and for how long."""
    firms = _core_firm_economy(ws, tmp_path / "in")
    found = anchors_of(ws)
    f = features(ws)
    assert f[firms["big"]]["sales_total"] + f[firms["big"]]["purchases_total"] > \
        f[firms["core"]]["sales_total"] + f[firms["core"]]["purchases_total"]
    assert (f[firms["broad"]]["supplier_count"], f[firms["core"]]["supplier_count"]) == (120, 60)
    assert found == {firms["core"]}


@pytest.mark.parametrize(("big_sales", "anchors"), [((8e8,), {"core"}), ((3e10, 2e10), {"big", "big2", "core"})])
def test_a_large_buyer_needs_the_hold_unless_it_dwarfs_its_tier(ws: Workspace, tmp_path: Path,
                                                                big_sales: tuple[float, ...], anchors: set[str]) -> None:
    """At ¥800M ``big`` clears the size bar but its suppliers hold no more to it than to anyone: not an anchor.
    At ¥30bn and ¥20bn, a hundred times the tier's next largest, ``big`` and ``big2`` are anchors by scale
    alone (``SIZE_ONLY_BAR``; ``big`` would be as the top score), as the standard profile's anchors are."""
    firms = _core_firm_economy(ws, tmp_path / "in", big_sales=big_sales)
    assert anchors_of(ws) == {firms[name] for name in anchors}
