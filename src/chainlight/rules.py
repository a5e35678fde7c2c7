"""Business rules every stage shares, one definition each (SQL in ``chainlight/sql/``).

- ``sales``: which invoices count as sales (normal, red-letter reversals netted, voided ignored);
- ``links``: which enterprise a mention (``invoice:<id>``, ``patent:<id>``) points at: the resolve
  stage's ``entity_links`` when it has run, else the fallback of ``fallback_links.sql``;
- ``recent_movement``: a firm's sales of the last months against the months before, as of a date
  (the expert's operating score and the risk engine's features read the same figures).

Each function registers a temporary view on the workspace's engine and returns its name, ready to
pass to ``render`` as an identifier.
"""

from __future__ import annotations

from chainlight.engine.base import load_sql, render
from chainlight.workspace import Workspace

SALES_VIEW = "_sales"
FALLBACK_LINKS_VIEW = "_fallback_links"


def sales_view(ws: Workspace) -> str:
    ws.engine.execute(f"CREATE OR REPLACE TEMP VIEW {SALES_VIEW} AS " + load_sql("chainlight", "sales"))
    return SALES_VIEW


def links_view(ws: Workspace) -> str:
    if ws.table_exists("entity_links"):
        return "entity_links"
    return fallback_links_view(ws)


def fallback_links_view(ws: Workspace) -> str:
    """The links written on the documents themselves (no matching): also the resolver's known partners."""
    ws.engine.execute(f"CREATE OR REPLACE TEMP VIEW {FALLBACK_LINKS_VIEW} AS " + load_sql("chainlight", "fallback_links"))
    return FALLBACK_LINKS_VIEW


def recent_movement(ws: Workspace, obs: str, sales: str, season: str, months: int, prior: float, out: str) -> str:
    """Build the temp table ``out``: the recent movement of each (uscc, as_of) of ``obs`` from the seller
    lines of ``sales`` seasonally adjusted by ``season`` (``recent_movement.sql``: sums and counts of the
    last ``months`` against the months before, up to 18; the order-size change shrunk by ``prior``);
    return its name. One rule for the expert's score and the risk engine's features."""
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS " + render(
        load_sql("chainlight", "recent_movement"), {"obs": obs, "sales": sales, "season": season}),
        {"recent_months": int(months), "recent_prior": float(prior)})
    return out
