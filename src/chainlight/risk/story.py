"""The story, side by side: what the registry says about a firm, what chainlight sees, both decisions.

``chainlight demo`` ends with it for the planted story firm (嘉兴丞达新材料科技有限公司), whose name the CLI
takes from the generator: registered as
general machinery, really a high-temperature nylon maker two steps from an automotive anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainlight.config import Config
from chainlight.risk.decide import Decision, DecisionService
from chainlight.workspace import Workspace

STORY_AMOUNT = 2_000_000.0


@dataclass
class Story:
    uscc: str
    registry: dict[str, Any]
    chain: dict[str, Any]
    traditional: Decision
    chainlight: Decision


def find_story_firm(ws: Workspace, name: str) -> str | None:
    """The firm registered under ``name`` (the demo passes the generator's story firm; the stages never
    import the generator)."""
    uscc = ws.engine.scalar("SELECT uscc FROM enterprises WHERE name = $n", {"n": name})
    return str(uscc) if uscc else None


def tell(ws: Workspace, cfg: Config, uscc: str, amount: float = STORY_AMOUNT,
         service: DecisionService | None = None) -> Story:
    """Both views of one firm; the chainlight decision is a real (audited) decision."""
    service = service or DecisionService.load(ws, cfg)
    q = ws.engine.query
    registry = q("SELECT name, scope, industry_code, city, founded, registered_capital, high_tech FROM enterprises "
                 "WHERE uscc = $u", {"u": uscc}).to_pylist()[0]
    features = service.features.get(uscc, {})
    products = q("SELECT product_name FROM products WHERE uscc = $u ORDER BY product_name", {"u": uscc}).column(0).to_pylist() \
        if ws.table_exists("products") else []
    segment = q("SELECT segment_id FROM mounts WHERE uscc = $u AND rank = 1", {"u": uscc}).to_pylist() \
        if ws.table_exists("mounts") else []
    score = q("SELECT score FROM operating_scores WHERE uscc = $u", {"u": uscc}).to_pylist() \
        if ws.table_exists("operating_scores") else []
    evidence = service.evidence.get(uscc)
    chain = {
        "main segment": segment[0]["segment_id"] if segment else None,
        "products": products,
        "granted patents": features.get("patents_granted"),
        "verified sales, last 12 months (¥)": features.get("verified_turnover"),
        "share of sales ending at anchors": features.get("anchor_bound_share"),
        "path to anchor": [step["name"] for step in evidence["path_to_anchor"]],
        "key customers": [c["name"] for c in evidence["key_customers"]],
        "operating score": round(score[0]["score"], 1) if score and score[0]["score"] is not None else None,
    }
    return Story(uscc, registry, chain, service.traditional(uscc, amount, "story"),
                 service.decide(uscc, amount, "story-demo"))
