"""Mounting against the synthetic truth: top-1 segment = the firm's true main segment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainlight.engine.base import sql_literal
from chainlight.workspace import Workspace


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    firms = truth / "firms.parquet" if truth else None
    if firms is None or not firms.exists() or not ws.table_exists("mounts"):
        return None
    row = ws.engine.query(f"""
        WITH t AS (SELECT uscc, main_segment_id, misregistered FROM read_parquet({sql_literal(firms.as_posix())})
                   WHERE uscc IN (SELECT uscc FROM enterprises))
        SELECT count(*) AS firms,
               avg(CASE WHEN m.segment_id = t.main_segment_id THEN 1.0 ELSE 0.0 END) AS accuracy,
               avg(CASE WHEN r.segment_id = t.main_segment_id THEN 1.0 ELSE 0.0 END) AS registry_only_accuracy,
               avg(CASE WHEN m.segment_id IS NOT NULL THEN 1.0 ELSE 0.0 END) AS coverage,
               avg(CASE WHEN m.segment_id = t.main_segment_id THEN 1.0 ELSE 0.0 END) FILTER (WHERE t.misregistered)
                   AS misregistered_accuracy
        FROM t LEFT JOIN (SELECT * FROM mounts WHERE rank = 1) m USING (uscc)
               LEFT JOIN (SELECT * FROM mounts_registry_only WHERE rank = 1) r USING (uscc)""").to_pylist()[0]
    if not row["firms"]:
        return None
    return {k: round(float(row[k] or 0.0), 4) for k in ("accuracy", "registry_only_accuracy", "coverage",
                                                        "misregistered_accuracy")}
