"""The chain evidence shown with a decision: path to an anchor, key customers, claim flags.

Loaded once into memory (``load``) and assembled per firm on demand, so the online path reads no
disk. The path follows, from the firm, the largest supply edge to a customer one hop closer to an
anchor (graph stage's ``hops_to_anchor``); key customers are the three largest supply customers.
Contradicted claims are listed as flags: they are shown, never used.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from chainlight.engine.base import load_sql
from chainlight.workspace import Workspace

MAX_FLAGS = 5


class Evidence:
    def __init__(self, names: dict[str, str], anchors: set[str], next_step: dict[str, str],
                 customers: dict[str, list[dict[str, Any]]], supported: dict[str, list[dict[str, Any]]],
                 contradicted: dict[str, list[dict[str, Any]]]) -> None:
        self.names, self.anchors, self.next_step = names, anchors, next_step
        self.customers, self.supported, self.contradicted = customers, supported, contradicted

    def path(self, uscc: str) -> list[dict[str, str]]:
        steps, seen = [], {uscc}
        current = uscc
        while current in self.next_step:
            current = self.next_step[current]
            if current in seen:
                break
            seen.add(current)
            steps.append({"uscc": current, "name": self.names.get(current, ""),
                          "anchor": "yes" if current in self.anchors else "no"})
        return steps

    def get(self, uscc: str) -> dict[str, Any]:
        return assemble(self.path(uscc), self.customers.get(uscc, []), self.supported.get(uscc, []),
                        self.contradicted.get(uscc, []))


def assemble(path: list[dict[str, str]], customers: list[dict[str, Any]], supported: list[dict[str, Any]],
             contradicted: list[dict[str, Any]]) -> dict[str, Any]:
    """A decision's evidence from a firm's walk towards an anchor (kept only when it reaches one), its key
    customers and its claims: one spelling for the online service (``Evidence``) and the batch (risk/batch.py)."""
    return {"path_to_anchor": path if path and path[-1]["anchor"] == "yes" else [], "key_customers": customers,
            "claims_supported": supported[:MAX_FLAGS], "claims_contradicted": contradicted[:MAX_FLAGS]}


def load(ws: Workspace, verdicts: str = "claim_verdicts") -> Evidence:
    q = ws.engine.query
    registry = q("SELECT uscc, name FROM enterprises ORDER BY uscc").to_pydict()
    names = dict(zip(registry["uscc"], registry["name"], strict=True))
    anchors: set[str] = set()
    next_step: dict[str, str] = {}
    customers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if ws.table_exists("supply_edges") and ws.table_exists("graph_features"):
        anchors = set(q("SELECT uscc FROM graph_features WHERE is_anchor").column(0).to_pylist())
        for row in q(load_sql("chainlight.risk", "evidence")).to_pylist():
            if row["kind"] == "step":
                next_step[row["uscc"]] = row["other"]
            else:
                customers[row["uscc"]].append({"uscc": row["other"], "name": names.get(row["other"], ""),
                                               "amount": row["amount"], "months_active": row["months_active"]})
    supported: dict[str, list[dict[str, Any]]] = defaultdict(list)
    contradicted: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if ws.table_exists(verdicts):
        for row in q("SELECT claim_id, uscc, kind, object, source, source_id, span_text, verdict, evidence_ids "
                     f"FROM {verdicts} WHERE verdict = 'contradicted' OR (verdict = 'supported' AND kind <> 'makes') "
                     "ORDER BY uscc, claim_id").to_pylist():
            target = supported if row["verdict"] == "supported" else contradicted
            target[row["uscc"]].append({k: row[k] for k in ("claim_id", "kind", "object", "source", "source_id",
                                                             "span_text", "evidence_ids")})
    return Evidence(names, anchors, next_step, dict(customers), dict(supported), dict(contradicted))
