"""Claim cross-validation against the generator's truth: fabricated claims must never be used.

``total``: claims the risk engine checked (``claim_verdicts``). ``fabricated``: the reports' false
claims (``truth/report_facts.parquet`` kind ``false_claim``) found among them (same report,
overlapping span). ``fabricated_used_in_decisions``: those whose verdict is ``supported`` — only
supported claims feed a feature or a decision — must be 0. Beside them: verdict counts, the false
claims caught as contradicted, and the true claims confirmed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainlight.workspace import Workspace


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    if not ws.table_exists("claim_verdicts"):
        return None
    counts = {r["verdict"]: r["n"] for r in ws.engine.query(
        "SELECT verdict, count(*) AS n FROM claim_verdicts GROUP BY 1").to_pylist()}
    out: dict[str, Any] = {"total": int(sum(counts.values()))}
    facts = truth / "report_facts.parquet" if truth else None
    if facts is not None and facts.exists():
        row = ws.engine.query(f"""
            WITH t AS (SELECT report_id, char_start, char_end, kind,  -- (Spark numbers rows only in an order)
                              row_number() OVER (ORDER BY report_id, char_start, char_end, kind) AS fid
                       FROM read_parquet('{facts.as_posix()}') WHERE kind IN ('false_claim', 'true_claim', 'injection')),
                 m AS (SELECT t.fid, t.kind, bool_or(v.verdict = 'supported') AS supported,
                              bool_or(v.verdict = 'contradicted') AS contradicted
                       FROM t JOIN claim_verdicts v ON v.source = 'report' AND v.source_id = t.report_id
                            AND v."start" < t.char_end AND t.char_start < v."end" GROUP BY 1, 2)
            SELECT count(*) FILTER (WHERE kind = 'false_claim') AS fabricated,
                   count(*) FILTER (WHERE kind = 'false_claim' AND supported) AS fabricated_used,
                   count(*) FILTER (WHERE kind = 'false_claim' AND contradicted) AS fabricated_contradicted,
                   count(*) FILTER (WHERE kind = 'injection' AND supported) AS injections_used,
                   count(*) FILTER (WHERE kind = 'true_claim') AS true_claims,
                   count(*) FILTER (WHERE kind = 'true_claim' AND supported) AS true_supported,
                   (SELECT count(*) FROM t WHERE kind = 'false_claim') AS fabricated_in_reports
            FROM m""").to_pylist()[0]
        out.update({"fabricated": int(row["fabricated"]), "fabricated_used_in_decisions": int(row["fabricated_used"]),
                    "fabricated_contradicted": int(row["fabricated_contradicted"]),
                    "fabricated_in_reports": int(row["fabricated_in_reports"]),
                    "injections_used": int(row["injections_used"]),
                    "true_claims": int(row["true_claims"]), "true_supported": int(row["true_supported"])})
    out.update({k: int(counts.get(k, 0)) for k in ("supported", "contradicted", "unverifiable")})
    return out
