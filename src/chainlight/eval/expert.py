"""The expert stage against the synthetic truth.

- ``trend_accuracy``: share of the truth's segments whose latest trend judgment has the true
  direction (a segment with no judgment counts as wrong), over all segments, including those whose
  reports disagree; ``trend_accuracy_disagreeing`` is the same over the segments where reports
  disagree (truth ``report_facts`` kind ``disagreement``), ``trend_coverage`` the share judged at all.
- ``score_spearman``: Spearman rank correlation of the operating score with the latent health, over
  all firms (anchors included); ``score_spearman_sme`` over the non-anchor firms. Health is a path
  (``synth.credit.health_path``); the score is computed from all invoices up to the data's end and is
  used as of then, so it is compared with the health at that date (``truth/firms.parquet``
  ``health_now``: the firm's lasting level plus its last month's deviation) — what a credit officer
  reading the score today needs it to track. ``score_spearman_lasting`` compares it with the lasting
  level alone (the only health of economies written before the path; then ``health`` is used for both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from scipy.stats import spearmanr

from chainlight.workspace import Workspace


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    if truth is None:
        return None
    trends, firms, facts = truth / "segment_trends.parquet", truth / "firms.parquet", truth / "report_facts.parquet"
    out: dict[str, Any] = {}
    if trends.exists() and ws.table_exists("trends"):
        rows = ws.engine.query(f"""
            WITH latest AS (SELECT * FROM trends QUALIFY row_number() OVER (PARTITION BY segment_id ORDER BY period DESC) = 1),
                 disputed AS (SELECT DISTINCT segment_id FROM read_parquet('{facts.as_posix()}') WHERE kind = 'disagreement')
            SELECT t.segment_id, t.direction AS truth, l.direction AS judged,
                   t.segment_id IN (SELECT segment_id FROM disputed) AS disputed
            FROM read_parquet('{trends.as_posix()}') t LEFT JOIN latest l USING (segment_id)""").to_pylist() \
            if facts.exists() else []
        if rows:
            right = [r["truth"] == r["judged"] for r in rows]
            out["trend_accuracy"] = round(sum(right) / len(rows), 4)
            out["trend_coverage"] = round(sum(r["judged"] is not None for r in rows) / len(rows), 4)
            disputed = [ok for ok, r in zip(right, rows, strict=True) if r["disputed"]]
            if disputed:
                out["trend_accuracy_disagreeing"] = round(sum(disputed) / len(disputed), 4)
    if firms.exists() and ws.table_exists("operating_scores"):
        columns = pq.read_schema(firms).names
        now = "t.health_now" if "health_now" in columns else "t.health"
        data = ws.engine.query(f"""
            SELECT s.score, {now} AS health_now, t.health, t.is_anchor FROM operating_scores s
            JOIN read_parquet('{firms.as_posix()}') t USING (uscc) ORDER BY s.uscc""").to_pydict()
        if len(data["score"]) > 2:
            out["score_spearman"] = round(float(spearmanr(data["score"], data["health_now"]).statistic), 4)
            sme = [i for i, a in enumerate(data["is_anchor"]) if not a]
            out["score_spearman_sme"] = round(float(spearmanr([data["score"][i] for i in sme],
                                                              [data["health_now"][i] for i in sme]).statistic), 4)
            out["score_spearman_lasting"] = round(float(spearmanr(data["score"], data["health"]).statistic), 4)
    return out or None
