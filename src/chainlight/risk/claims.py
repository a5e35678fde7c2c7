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
from chainlight.rules import links_view, sales_view
from chainlight.workspace import Workspace

VERDICTS = ("supported", "contradicted", "unverifiable")
TEMP = "_risk_verdicts"


def build(ws: Workspace) -> str:
    """Compute every verdict into a temp table (ordered by claim id); returns its name."""
    sql = render(load_sql("chainlight.risk", "claims"), {
        "links": links_view(ws), "sales": sales_view(ws), "facts": ws.table_or_empty("facts"),
        "reports": ws.table_or_empty("reports"),
        "patents": ws.table_or_empty("patents"),
        "firm_claims": ws.table_or_empty("firm_claims")})
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {TEMP} AS SELECT * FROM ({sql}) ORDER BY claim_id")
    return TEMP
