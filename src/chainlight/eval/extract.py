"""Extraction against the synthetic truth.

Two kinds of facts are scored: product → segment (every product listing and distinct invoice line
item; the highest-confidence fact per source is the prediction) and firm-supplies-firm claims in
reports (a claim is correct when its span covers a planted claim and names the same seller and buyer).
A planted *false* claim extracted correctly is a correct extraction: refusing it is the risk
engine's job, because no invoice backs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainlight.engine.base import sql_literal
from chainlight.workspace import Workspace


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    if truth is None or not (truth / "product_segments.parquet").exists() or not ws.table_exists("facts"):
        return None
    product, item, facts_p = ((truth / f).as_posix() for f in ("product_segments.parquet", "item_segments.parquet",
                                                              "report_facts.parquet"))
    segment = ws.engine.query(f"""
        WITH best AS (
            SELECT source, source_id, arg_max(segment_id, confidence) AS segment_id FROM facts
            WHERE kind = 'product_segment' GROUP BY 1, 2),
        t AS (SELECT 'product' AS source, uscc || ':' || product_name AS source_id, segment_id
              FROM read_parquet({sql_literal(product)})
              UNION ALL SELECT 'item', item_name || '|' || tax_code, segment_id FROM read_parquet({sql_literal(item)}))
        SELECT count(*) FILTER (WHERE b.segment_id IS NOT NULL) AS predicted,
               count(*) FILTER (WHERE b.segment_id = t.segment_id) AS correct, count(*) AS positives
        FROM t LEFT JOIN best b USING (source, source_id)""").to_pylist()[0]
    claims = ws.engine.query(f"""
        WITH t AS (SELECT * FROM read_parquet({sql_literal(facts_p)}) WHERE kind IN ('true_claim', 'false_claim')),
             f AS (SELECT * FROM facts WHERE kind = 'supply_claim')
        SELECT (SELECT count(*) FROM f) AS predicted, (SELECT count(*) FROM t) AS positives,
               (SELECT count(*) FROM f WHERE EXISTS (SELECT 1 FROM t WHERE t.report_id = f.source_id
                    AND t.char_start < f."end" AND f.start < t.char_end
                    AND t.seller_uscc = f.subject_uscc AND t.buyer_uscc = f.object_uscc)) AS correct,
               (SELECT count(*) FROM t WHERE EXISTS (SELECT 1 FROM f WHERE t.report_id = f.source_id
                    AND t.char_start < f."end" AND f.start < t.char_end
                    AND t.seller_uscc = f.subject_uscc AND t.buyer_uscc = f.object_uscc)) AS found""").to_pylist()[0]
    predicted = segment["predicted"] + claims["predicted"]
    correct = segment["correct"] + claims["correct"]
    positives = segment["positives"] + claims["positives"]
    found = segment["correct"] + claims["found"]
    return {"precision": round(correct / predicted, 4) if predicted else 0.0,
            "recall": round(found / positives, 4) if positives else 0.0,
            "product_segment_precision": round(segment["correct"] / segment["predicted"], 4) if segment["predicted"] else 0.0,
            "claim_precision": round(claims["correct"] / claims["predicted"], 4) if claims["predicted"] else 0.0,
            "claim_recall": round(claims["found"] / claims["positives"], 4) if claims["positives"] else 0.0}
