"""Row accounting of everything ingested: rows_in = rows_loaded + rows_quarantined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainlight.workspace import Workspace


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    row = ws.engine.query(
        "SELECT count(*) AS files, coalesce(sum(rows_in), 0) AS rows_in, "
        "coalesce(sum(rows_loaded), 0) AS rows_loaded, coalesce(sum(rows_quarantined), 0) AS rows_quarantined "
        "FROM ingest_files").to_pylist()[0]
    if not row["files"]:
        return None
    return {k: int(row[k]) for k in ("rows_in", "rows_loaded", "rows_quarantined")}
