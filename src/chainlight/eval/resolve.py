"""Entity resolution against the synthetic truth: a wrong link counts against precision, a miss against recall."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainlight.engine.base import sql_literal
from chainlight.workspace import Workspace


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    mentions = truth / "mentions.parquet" if truth else None
    if mentions is None or not mentions.exists() or not ws.table_exists("entity_links"):
        return None
    rows = ws.engine.query(f"""
        WITH t AS (SELECT mention_id, source, true_uscc FROM read_parquet({sql_literal(mentions.as_posix())})),
             l AS (SELECT mention_id, source, uscc FROM entity_links WHERE source IN (SELECT DISTINCT source FROM t))
        SELECT coalesce(t.source, l.source) AS source,
               count(*) FILTER (WHERE l.uscc IS NOT NULL) AS linked,
               count(*) FILTER (WHERE l.uscc IS NOT NULL AND l.uscc = t.true_uscc) AS correct,
               count(*) FILTER (WHERE t.true_uscc IS NOT NULL) AS positives
        FROM t FULL OUTER JOIN l USING (mention_id) GROUP BY 1 ORDER BY 1""").to_pylist()
    linked, correct, positives = (sum(r[k] for r in rows) for k in ("linked", "correct", "positives"))
    precision = correct / linked if linked else 0.0
    recall = correct / positives if positives else 0.0
    by_source = {r["source"]: {"precision": round(r["correct"] / r["linked"], 4) if r["linked"] else 0.0,
                               "recall": round(r["correct"] / r["positives"], 4) if r["positives"] else 0.0}
                 for r in rows}
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(_f1(precision, recall), 4),
            "by_source": by_source}
