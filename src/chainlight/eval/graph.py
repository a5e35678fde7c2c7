"""Supply edges against the synthetic truth, above the volume floor the graph stage
used (``graph.min_edge_amount`` of the workspace's configuration).

Recall: true supply edges above the floor that the stage marks as supply. Precision: edges the stage
marks as supply above the floor that are true supply edges (of any size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainlight.engine.base import sql_literal
from chainlight.workspace import Workspace


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    edges = truth / "supply_edges.parquet" if truth else None
    firms = truth / "firms.parquet" if truth else None
    if edges is None or not edges.exists() or not ws.table_exists("supply_edges"):
        return None
    row = ws.engine.query(f"""
        WITH t AS (SELECT seller_uscc, buyer_uscc, amount_total FROM read_parquet({sql_literal(edges.as_posix())}) WHERE is_supply),
             p AS (SELECT seller_uscc, buyer_uscc FROM supply_edges WHERE is_supply AND amount >= $floor)
        SELECT (SELECT count(*) FROM p) AS predicted,
               (SELECT count(*) FROM p JOIN t USING (seller_uscc, buyer_uscc)) AS predicted_true,
               (SELECT count(*) FROM t WHERE amount_total >= $floor) AS positives,
               (SELECT count(*) FROM t JOIN p USING (seller_uscc, buyer_uscc) WHERE t.amount_total >= $floor) AS found
        """, {"floor": ws.config.graph.min_edge_amount}).to_pylist()[0]
    out: dict[str, Any] = {
        "edge_precision": round(row["predicted_true"] / row["predicted"], 4) if row["predicted"] else 0.0,
        "edge_recall": round(row["found"] / row["positives"], 4) if row["positives"] else 0.0}
    if firms is not None and firms.exists() and ws.table_exists("graph_features"):
        anchors = ws.engine.query(f"""
            SELECT count(*) FILTER (WHERE f.is_anchor AND t.is_anchor) AS hit, count(*) FILTER (WHERE f.is_anchor) AS pred,
                   count(*) FILTER (WHERE t.is_anchor) AS pos
            FROM graph_features f JOIN read_parquet({sql_literal(firms.as_posix())}) t USING (uscc)""").to_pylist()[0]
        out["anchor_precision"] = round(anchors["hit"] / anchors["pred"], 4) if anchors["pred"] else 0.0
        out["anchor_recall"] = round(anchors["hit"] / anchors["pos"], 4) if anchors["pos"] else 0.0
    return out
