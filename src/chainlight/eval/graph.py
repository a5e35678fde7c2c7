"""Supply edges against the synthetic truth, above a volume floor (¥10,000 over the period).

Recall: true supply edges above the floor that the stage marks as supply. Precision: edges the stage
marks as supply above the floor that are true supply edges (of any size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainlight.workspace import Workspace

FLOOR = 10_000.0


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    edges = truth / "supply_edges.parquet" if truth else None
    firms = truth / "firms.parquet" if truth else None
    if edges is None or not edges.exists() or not ws.table_exists("supply_edges"):
        return None
    row = ws.engine.query(f"""
        WITH t AS (SELECT seller_uscc, buyer_uscc, amount_total FROM read_parquet('{edges.as_posix()}') WHERE is_supply),
             p AS (SELECT seller_uscc, buyer_uscc FROM supply_edges WHERE is_supply AND amount >= {FLOOR})
        SELECT (SELECT count(*) FROM p) AS predicted,
               (SELECT count(*) FROM p JOIN t USING (seller_uscc, buyer_uscc)) AS predicted_true,
               (SELECT count(*) FROM t WHERE amount_total >= {FLOOR}) AS positives,
               (SELECT count(*) FROM t JOIN p USING (seller_uscc, buyer_uscc) WHERE t.amount_total >= {FLOOR}) AS found
        """).to_pylist()[0]
    out: dict[str, Any] = {
        "edge_precision": round(row["predicted_true"] / row["predicted"], 4) if row["predicted"] else 0.0,
        "edge_recall": round(row["found"] / row["positives"], 4) if row["positives"] else 0.0}
    if firms is not None and firms.exists() and ws.table_exists("graph_features"):
        anchors = ws.engine.query(f"""
            SELECT count(*) FILTER (WHERE f.is_anchor AND t.is_anchor) AS hit, count(*) FILTER (WHERE f.is_anchor) AS pred,
                   count(*) FILTER (WHERE t.is_anchor) AS pos
            FROM graph_features f JOIN read_parquet('{firms.as_posix()}') t USING (uscc)""").to_pylist()[0]
        out["anchor_precision"] = round(anchors["hit"] / anchors["pred"], 4) if anchors["pred"] else 0.0
        out["anchor_recall"] = round(anchors["hit"] / anchors["pos"], 4) if anchors["pos"] else 0.0
    return out
