"""Business rules every stage shares, one definition each (SQL in ``chainlight/sql/``).

- ``sales``: which invoices count as sales (normal, red-letter reversals netted, voided ignored);
- ``links``: which enterprise a mention (``invoice:<id>``, ``patent:<id>``) points at: the resolve
  stage's ``entity_links`` when it has run, else the fallback of ``fallback_links.sql``.

Each function registers a temporary view on the workspace's engine and returns its name, ready to
pass to ``render`` as an identifier.
"""

from __future__ import annotations

from chainlight.engine.base import load_sql
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
