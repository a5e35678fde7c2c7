"""What each read endpoint returns, assembled from the snapshot (no HTTP here, so tests call it directly)."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Any

from chainlight import graph
from chainlight.errors import NotFound
from chainlight.serve import models
from chainlight.serve.snapshot import Snapshot

EVIDENCE_PER_MOUNT = 12
MAX_ANCHOR_PATHS = 3


def _tiers(raw: Any) -> list[str]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [str(t) for t in value] if isinstance(value, list) else []


def chains(snap: Snapshot) -> list[models.ChainSummary]:
    if not snap.has("chains", "segments", "mounts", "graph_features"):
        return []
    return [models.ChainSummary(**{**r, "tiers": _tiers(r["tiers"])}) for r in snap.rows("chains")]


def chain(snap: Snapshot, chain_id: str) -> models.ChainDetail:
    found = snap.one("chain", {"chain_id": chain_id}) if snap.has("chains") else None
    if found is None or not snap.has("segments", "mounts", "graph_features", "supply_edges", "segment_edges"):
        raise NotFound(f"no chain {chain_id!r}")
    segments = [models.SegmentNode(**r) for r in snap.rows("chain_segments", {"chain_id": chain_id})]
    flows = [models.SegmentFlow(**r) for r in snap.rows("chain_flows", {"chain_id": chain_id})]
    own = {s.segment_id for s in segments}
    outside = sorted(({f.source for f in flows} | {f.target for f in flows}) - own)
    names = {r["segment_id"]: r["name"] for r in snap.rows("segment_names", {"ids": outside})} if outside else {}
    return models.ChainDetail(
        chain_id=found["chain_id"], name=found["name"], tiers=_tiers(found["tiers"]),
        ontology_version=found["ontology_version"], segments=segments, flows=flows,
        ontology_edges=[models.OntologyEdge(**r) for r in snap.rows("chain_ontology_edges", {"chain_id": chain_id})],
        outside_segments=names)


def segment_firms(snap: Snapshot, segment_id: str, limit: int, offset: int) -> models.SegmentFirms:
    found = snap.one("segment", {"segment_id": segment_id}) if snap.has("segments") else None
    if found is None or not snap.has("mounts", "graph_features"):
        raise NotFound(f"no segment {segment_id!r}")
    rows = snap.rows("segment_firms", {"segment_id": segment_id, "limit": limit, "offset": offset})
    total = rows[0]["total"] if rows else 0
    return models.SegmentFirms(segment_id=segment_id, chain_id=found["chain_id"], name=found["name"], tier=found["tier"],
                               total=total, firms=[models.SegmentFirm(**r) for r in rows])


def names(snap: Snapshot, usccs: list[str]) -> dict[str, dict[str, Any]]:
    """uscc → name, city and main segment, for lists of firms."""
    if not usccs:
        return {}
    query = "enterprise_names" if snap.has("mounts", "segments") else "enterprise_names_bare"
    return {r["uscc"]: r for r in snap.rows(query, {"usccs": usccs})}


def anchor_paths(sub: graph.Subgraph, anchors: frozenset[str], limit: int = MAX_ANCHOR_PATHS) -> list[list[str]]:
    """Shortest supply paths (seller → buyer) from the centre to anchors within ``sub``; at each
    firm the heavier customer is tried first, so the paths shown carry the most money."""
    out: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for e in sub.edges:
        out[e["seller_uscc"]].append((-float(e["amount"]), e["buyer_uscc"]))
    parent: dict[str, str | None] = {sub.center: None}
    queue, reached = deque([sub.center]), []
    while queue:
        node = queue.popleft()
        if node in anchors:
            reached.append(node)
            continue  # a path ends at the first anchor
        for _, buyer in sorted(out[node]):
            if buyer not in parent:
                parent[buyer] = node
                queue.append(buyer)
    paths = []
    for anchor in reached[:limit]:
        path: list[str] = []
        cursor: str | None = anchor
        while cursor is not None:
            path.append(cursor)
            cursor = parent[cursor]
        paths.append(path[::-1])
    return paths


def profile(snap: Snapshot, uscc: str, latest_decision: dict[str, Any] | None = None) -> models.Profile:
    registry = snap.one("enterprise", {"uscc": uscc}) if snap.has("enterprises") else None
    if registry is None:
        raise NotFound(f"no enterprise with USCC {uscc}")
    key = {"uscc": uscc}
    missing: list[str] = []
    makes: list[models.Mount] = []
    registered_as: list[models.SegmentRef] = []
    if snap.has("mounts", "mount_evidence", "segments", "chains"):
        evidence: dict[str, list[models.Evidence]] = defaultdict(list)
        for r in snap.rows("mount_evidence", key):
            if len(evidence[r["segment_id"]]) < EVIDENCE_PER_MOUNT:
                evidence[r["segment_id"]].append(models.Evidence(**{k: v for k, v in r.items() if k != "segment_id"}))
        makes = [models.Mount(**r, evidence=evidence[r["segment_id"]]) for r in snap.rows("mounts", key)]
        if snap.has("mounts_registry_only"):
            registered_as = [models.SegmentRef(**r) for r in snap.rows("registered_as", key)]
    else:
        missing.append("mounts: the mount stage has not run")
    features = snap.one("graph_features", key) if snap.has("graph_features") else None
    supply, paths = None, []
    if features is not None and snap.has("supply_edges"):
        view = snap.view()
        sub = graph.subgraph(view, uscc, hops_up=1, hops_down=1)  # type: ignore[arg-type]
        supply = models.Subgraph(center=uscc, nodes=[models.Firm(**n) for n in sub.nodes],
                                 edges=[models.SupplyEdge(**e) for e in sub.edges])
        hops = features.get("hops_to_anchor")
        if hops is not None:
            reach = graph.subgraph(view, uscc, hops_up=0, hops_down=int(hops))  # type: ignore[arg-type]
            amounts = {(e["seller_uscc"], e["buyer_uscc"]): float(e["amount"]) for e in reach.edges}
            firms = {n["uscc"]: n for n in reach.nodes}
            for path in anchor_paths(reach, snap.anchors):
                paths.append(models.AnchorPath(
                    anchor=models.Firm(**firms.get(path[-1], {"uscc": path[-1]})), hops=len(path) - 1, firms=path,
                    names=[firms.get(u, {}).get("name") for u in path],
                    amounts=[amounts[(a, b)] for a, b in zip(path, path[1:], strict=False)]))
    else:
        missing.append("supply graph: the graph stage has not run")
    main = next((m.segment_id for m in makes if m.rank == 1), None)
    return models.Profile(
        uscc=uscc, registry=models.Registry(**registry),
        aliases=snap.rows("aliases", key) if snap.has("aliases") else [],
        products=snap.rows("products", key) if snap.has("products") else [],
        registered_as=registered_as, makes=makes, graph=features, supply=supply, anchor_paths=paths,
        monthly_sales=[models.MonthPoint(**r) for r in snap.rows("monthly_sales", key)] if snap.has("monthly_sales") else [],
        operating=operating(snap, uscc, main, missing), claims=claims(snap, uscc, missing),
        latest_decision=latest_decision or batch_decision(snap, uscc), missing=missing)


def operating(snap: Snapshot, uscc: str, segment_id: str | None, missing: list[str]) -> models.Operating | None:
    """The expert stage's score, analysis text and indicators, with the firm's segment trend."""
    if not snap.has("operating_scores", "profiles"):
        missing.append("operating analysis: the expert stage has not run")
        return None
    score = snap.one("operating_score", {"uscc": uscc}) or {}
    analysis = snap.one("operating_profile", {"uscc": uscc}) or {}
    if not score and not analysis:
        return None
    text_keys = {"text", "language", "sentences"}
    trend = [models.TrendPoint(**r) for r in snap.rows("segment_trend", {"segment_id": segment_id})] \
        if segment_id and snap.has("trends") else []
    return models.Operating(**score, **{k: analysis.get(k) or ([] if k == "sentences" else None) for k in text_keys},
                            indicators={k: v for k, v in analysis.items() if k not in text_keys}, segment_trend=trend)


def claims(snap: Snapshot, uscc: str, missing: list[str]) -> list[models.Claim]:
    """Claims about the firm with the risk engine's verdicts; before it has run, the extractor's supply
    claims (no verdict) — in both cases with the invoiced supply beside each supply claim."""
    if snap.has("claim_verdicts"):
        rows = snap.rows("claim_verdicts", {"uscc": uscc})
    elif snap.has("claims"):
        rows = snap.rows("claims", {"uscc": uscc})
        missing.append("claim verdicts: the risk stage has not run")
    else:
        return []
    supplies = [r for r in rows if r["kind"] == "supplies"]
    invoiced = {(r["seller_uscc"], r["buyer_uscc"]): r for r in snap.rows("invoiced", {
        "sellers": [r["subject_uscc"] for r in supplies], "buyers": [r["object"] for r in supplies]})} \
        if supplies and snap.has("supply_edges") else {}
    firms = names(snap, sorted({r["subject_uscc"] for r in rows if r["subject_uscc"]} | {r["object"] for r in supplies}))
    segment_names = {r["segment_id"]: r["name"] for r in snap.rows("segment_names", {
        "ids": sorted({r["object"] for r in rows if r["kind"] == "makes"})})} if snap.has("segments") else {}
    out = []
    for r in rows:
        edge = invoiced.get((r["subject_uscc"], r["object"])) if r["kind"] == "supplies" else None
        object_name = firms.get(r["object"], {}).get("name") if r["kind"] == "supplies" else segment_names.get(r["object"])
        out.append(models.Claim(**r, subject_name=firms.get(r["subject_uscc"], {}).get("name"), object_name=object_name,
                                invoiced_amount=edge["amount"] if edge else None,
                                invoiced_months=edge["months_active"] if edge else None))
    return out


def batch_decision(snap: Snapshot, uscc: str) -> dict[str, Any] | None:
    """The risk stage's newest batch decision for the firm, its JSON columns opened."""
    if not snap.has("decisions"):
        return None
    row = snap.one("latest_decision", {"uscc": uscc})
    if row is None:
        return None
    for column in ("reasons", "evidence", "versions"):
        if isinstance(row.get(column), str):
            row[column] = json.loads(row[column])
    return {**row, "source": "batch"}
