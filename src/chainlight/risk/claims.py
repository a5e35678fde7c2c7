"""Claim cross-validation: every model-made claim about a firm gets a verdict against hard data.

Claims come from the extractor's ``facts`` (report supply claims; product listings read as chain
segments), the registry's high-tech flag and, when the expert stage has run, its ``firm_claims``.
Each is ``supported``, ``contradicted`` or ``unverifiable`` with the ids of the invoices or patents
that decide it (rules in sql/claims.sql). Only supported claims may feed a feature
(``claims_supported``); contradicted ones are listed in a decision's evidence as flags and change
nothing else, so a fabricated claim can never raise a line.
"""

from __future__ import annotations

from chainlight.engine.base import load_sql, render
from chainlight.risk.features import PATENT_COLUMNS, optional_table
from chainlight.rules import links_view, sales_view
from chainlight.workspace import Workspace

VERDICTS = ("supported", "contradicted", "unverifiable")
FACT_COLUMNS = ('fact_id VARCHAR, kind VARCHAR, source VARCHAR, source_id VARCHAR, "start" BIGINT, "end" BIGINT, '
                "span_text VARCHAR, segment_id VARCHAR, subject_uscc VARCHAR, object_uscc VARCHAR")
FIRM_CLAIM_COLUMNS = ('claim_id VARCHAR, report_id VARCHAR, kind VARCHAR, uscc VARCHAR, "start" BIGINT, "end" BIGINT, '
                      "span_text VARCHAR, published DATE")
TEMP = "_risk_verdicts"


def build(ws: Workspace) -> str:
    """Compute every verdict into a temp table (ordered by claim id); returns its name."""
    sql = render(load_sql("chainlight.risk", "claims"), {
        "links": links_view(ws), "sales": sales_view(ws), "facts": optional_table(ws, "facts", FACT_COLUMNS),
        "reports": optional_table(ws, "reports", "report_id VARCHAR, published DATE"),
        "patents": optional_table(ws, "patents", PATENT_COLUMNS),
        "firm_claims": optional_table(ws, "firm_claims", FIRM_CLAIM_COLUMNS)})
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {TEMP} AS SELECT * FROM ({sql}) ORDER BY claim_id")
    return TEMP
