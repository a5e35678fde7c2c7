"""Stage ``mount``: each enterprise's main business placed on chain segments, with the evidence.

Reads ``enterprises``, ``products``, ``invoices``, ``patents`` and ``entity_links`` (resolved invoice
buyers and patent holders; without it, written buyer USCCs and exact holder names are used), and the
chain ontology (``Config.ontology`` or the 9 default chains). Writes ``mounts`` (uscc, segment_id,
chain_id, tier, share, confidence, rank), ``mount_evidence`` (the strongest evidence per firm, segment
and signal) and ``mounts_registry_only`` (the same model on registry scope and industry code alone,
the view a traditional lender has).

The model is a weighted vote an analyst can follow. Each signal gives the firm a distribution over
segments, normalised within the firm; the signals are then added with these weights:

    invoice line items 1.0  (what it really sells: item names and tax codes, weighted by amount)
    product listings   0.5  (what it says it sells)
    customers          0.3  (segments upstream of its customers' segments, by amount)
    patents            0.3  (IPC codes and title terms of the patents it holds)
    registered scope   0.15 (经营范围 terms)
    industry code      0.1  (GB/T 4754, often vague or wrong)

Shares are the normalised scores; segments with at least 20% of the score are kept (at most 3), so
cross-chain firms get several mounts. Confidence = share × √(weight of the signals present / total).
Text matches the ontology lexicon first and falls back to a character n-gram model
(``mount.signals``). The customer signal uses a first pass without it, so it is not circular.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import pyarrow as pa

from chainlight import tables
from chainlight.config import Config
from chainlight.engine.base import load_sql, render
from chainlight.mount.signals import SegmentLexicon, SegmentTextModel, classify_texts
from chainlight.ontology.model import Ontology
from chainlight.workspace import StageResult, Workspace

log = logging.getLogger(__name__)

SIGNAL_WEIGHTS = {"invoice_item": 1.0, "product": 0.5, "customers": 0.3, "patent": 0.3, "scope": 0.15,
                  "industry_code": 0.1}
REGISTRY_SIGNALS = ("scope", "industry_code")
MIN_SHARE = 0.2
EVIDENCE_PER_SIGNAL = 3

_c = tables.Column
tables.register(tables.TableSpec("mounts", "mount", (
    _c("uscc", "VARCHAR"), _c("segment_id", "VARCHAR"), _c("chain_id", "VARCHAR"), _c("tier", "VARCHAR"),
    _c("share", "DOUBLE"), _c("confidence", "DOUBLE"), _c("rank", "BIGINT")), key=("uscc", "segment_id"),
    description="Each firm's main business as chain segments (rank 1 = main)."))
tables.register(tables.TableSpec("mount_evidence", "mount", (
    _c("uscc", "VARCHAR"), _c("segment_id", "VARCHAR"), _c("signal", "VARCHAR"), _c("source_id", "VARCHAR"),
    _c("detail", "VARCHAR"), _c("weight", "DOUBLE")), description="The strongest evidence behind each mount."))
tables.register(tables.TableSpec("mounts_registry_only", "mount", (
    _c("uscc", "VARCHAR"), _c("segment_id", "VARCHAR"), _c("share", "DOUBLE"), _c("confidence", "DOUBLE"),
    _c("rank", "BIGINT")), key=("uscc", "segment_id"),
    description="Baseline: the same model on registry scope and industry code alone."))

SIGNAL_SCHEMA = pa.schema([("uscc", pa.string()), ("segment_id", pa.string()), ("signal", pa.string()),
                           ("weight", pa.float64()), ("source_id", pa.string()), ("detail", pa.string())])


def load_ontology(cfg: Config) -> Ontology:
    """The configured ontology (default: the 9 chains), validated."""
    from chainlight import ontology

    return ontology.load(cfg.ontology)


class _Signals:
    """Rows of (uscc, segment, signal, weight, source id, detail), gathered column-wise."""

    def __init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in SIGNAL_SCHEMA.names}

    def add(self, uscc: str, segment: str, signal: str, weight: float, source_id: str | None, detail: str) -> None:
        for name, value in zip(SIGNAL_SCHEMA.names, (uscc, segment, signal, weight, source_id, detail), strict=True):
            self.columns[name].append(value)

    def table(self) -> pa.Table:
        return pa.table(self.columns, schema=SIGNAL_SCHEMA)


def _item_signals(ws: Workspace, lexicon: SegmentLexicon, model: SegmentTextModel, out: _Signals) -> None:
    """Distinct items are classified in-process; amounts are summed per firm and segment in SQL."""
    engine = ws.engine
    engine.execute("CREATE OR REPLACE TEMP TABLE _mount_sales AS " + load_sql("chainlight.mount", "item_sales"))
    items = engine.query("SELECT DISTINCT item_name, tax_code FROM _mount_sales ORDER BY 1, 2").to_pylist()
    texts = [i["item_name"] or "" for i in items]
    classified = classify_texts(texts, lexicon, model)
    rows: dict[str, list] = {"item_name": [], "tax_code": [], "segment_id": [], "p": []}
    for item, (distribution, _how) in zip(items, classified, strict=True):
        by_code = lexicon.tax_segments(item["tax_code"])
        votes: dict[str, float] = defaultdict(float)
        for segment, p in distribution.items():
            votes[segment] += 0.7 * p
        for segment in by_code:
            votes[segment] += 0.3 / len(by_code)
        total = sum(votes.values())
        for segment, vote in votes.items():
            rows["item_name"].append(item["item_name"])
            rows["tax_code"].append(item["tax_code"])
            rows["segment_id"].append(segment)
            rows["p"].append(vote / total)
    engine.register_arrow("_mount_items", pa.table(rows, schema=pa.schema([
        ("item_name", pa.string()), ("tax_code", pa.string()), ("segment_id", pa.string()), ("p", pa.float64())])))
    # every sold item is evidence (scored in full); the table of evidence keeps the strongest few
    engine.execute("""CREATE OR REPLACE TEMP TABLE _mount_item_signals AS
        SELECT s.uscc, c.segment_id, 'invoice_item' AS signal, s.amount * c.p AS weight,
               s.example_invoice AS source_id, s.item_name AS detail
        FROM _mount_sales s JOIN _mount_items c USING (item_name, tax_code)""")


def _product_signals(ws: Workspace, lexicon: SegmentLexicon, model: SegmentTextModel, out: _Signals) -> None:
    rows = ws.engine.query("SELECT uscc, product_name, coalesce(description, '') AS description FROM products "
                           "ORDER BY uscc, product_name").to_pylist()
    names = sorted({r["product_name"] for r in rows})
    by_name = dict(zip(names, classify_texts(names, lexicon, model), strict=True))
    for row in rows:
        for segment, p in by_name[row["product_name"]][0].items():
            out.add(row["uscc"], segment, "product", p, row["product_name"], row["product_name"])


def _patent_signals(ws: Workspace, lexicon: SegmentLexicon, out: _Signals) -> None:
    holder = ("SELECT l.uscc FROM entity_links l WHERE l.mention_id = 'patent:' || p.patent_id"
              if ws.table_exists("entity_links") else
              "SELECT e.uscc FROM enterprises e WHERE e.name = p.holder_name LIMIT 1")
    rows = ws.engine.query(f"SELECT p.patent_id, p.title, coalesce(p.ipc, '') AS ipc, ({holder}) AS uscc "
                           "FROM patents p ORDER BY p.patent_id").to_pylist()
    for row in rows:
        if not row["uscc"]:
            continue
        votes: dict[str, float] = defaultdict(float)
        for segment in lexicon.ipc_segments(row["ipc"]):
            votes[segment] += 0.5
        for hit in lexicon.product_hits(row["title"] or ""):
            for segment in hit.segments:
                votes[segment] += 1.0 / len(hit.segments)
        for segment, vote in votes.items():
            out.add(row["uscc"], segment, "patent", vote, row["patent_id"], f"{row['ipc']} {row['title']}")


def _registry_signals(ws: Workspace, lexicon: SegmentLexicon, model: SegmentTextModel, out: _Signals) -> None:
    rows = ws.engine.query("SELECT uscc, coalesce(scope, '') AS scope, coalesce(industry_code, '') AS code "
                           "FROM enterprises ORDER BY uscc").to_pylist()
    scopes = sorted({r["scope"] for r in rows})
    scope_votes: dict[str, list[tuple[str, float, str]]] = {}
    for scope in scopes:
        votes: list[tuple[str, float, str]] = []
        for hit in lexicon.scope_hits(scope) + lexicon.product_hits(scope):
            votes += [(segment, 1.0 / len(hit.segments), hit.term) for segment in hit.segments]
        scope_votes[scope] = votes
    for row in rows:
        for segment, vote, term in scope_votes[row["scope"]]:
            out.add(row["uscc"], segment, "scope", vote, None, term)
        code_segments = lexicon.industry_segments(row["code"])
        for segment in code_segments:
            out.add(row["uscc"], segment, "industry_code", 1.0 / len(code_segments), None, row["code"])


def _customer_signals(ws: Workspace, ontology: Ontology, first_pass: dict[str, str], out: _Signals) -> None:
    """Segments upstream of the customers' (first-pass) segments, weighted by sales to them."""
    links = "entity_links" if ws.table_exists("entity_links") else None
    if links is None:  # written USCCs only
        ws.engine.execute("CREATE OR REPLACE TEMP VIEW _mount_links AS SELECT 'invoice:' || invoice_id AS mention_id, "
                          "buyer_uscc AS uscc FROM invoices WHERE buyer_uscc IS NOT NULL")
        links = "_mount_links"
    upstream: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for edge in ontology.edges():
        upstream[edge.target].append((edge.source, edge.weight or 0.1))
    sales = ws.engine.query(render(load_sql("chainlight.mount", "customers"), {"links": links})).to_pylist()
    for row in sales:
        segment = first_pass.get(row["buyer"])
        sources = upstream.get(segment or "", [])
        total = sum(w for _, w in sources)
        for source, weight in sources:
            out.add(row["uscc"], source, "customers", row["amount"] * weight / total, row["buyer"], segment or "")


def _combine(ws: Workspace, signals: pa.Table, weights: dict[str, float], segments: pa.Table) -> pa.Table:
    """Shares per firm and segment from the in-process signals plus the line-item signals (in SQL)."""
    engine = ws.engine
    engine.register_arrow("_mount_other_signals", signals)
    engine.execute("CREATE OR REPLACE TEMP TABLE _mount_signals AS SELECT * FROM _mount_item_signals "
                   "UNION ALL SELECT * FROM _mount_other_signals")
    engine.register_arrow("_mount_weights", pa.table({"signal": list(weights), "signal_weight": list(weights.values())}))
    engine.register_arrow("_mount_segments", segments)
    sql = render(load_sql("chainlight.mount", "combine"), {
        "signals": "_mount_signals", "signal_weights": "_mount_weights", "segments": "_mount_segments"})
    return engine.query(sql + " ORDER BY uscc, rank", {"min_share": MIN_SHARE})


def run(ws: Workspace, cfg: Config) -> StageResult:
    ontology = load_ontology(cfg)
    lexicon, model = SegmentLexicon(ontology), SegmentTextModel(ontology)
    segments = pa.table({
        "segment_id": [s.id for c in ontology.chains for s in c.segments],
        "chain_id": [c.id for c in ontology.chains for _ in c.segments],
        "tier": [s.tier for c in ontology.chains for s in c.segments]})
    collected = _Signals()
    _item_signals(ws, lexicon, model, collected)
    _product_signals(ws, lexicon, model, collected)
    _patent_signals(ws, lexicon, collected)
    _registry_signals(ws, lexicon, model, collected)
    without_customers = {k: v for k, v in SIGNAL_WEIGHTS.items() if k != "customers"}
    first = _combine(ws, collected.table(), without_customers, segments)
    first_pass = {r["uscc"]: r["segment_id"] for r in first.to_pylist() if r["rank"] == 1}
    _customer_signals(ws, ontology, first_pass, collected)
    signals = collected.table()
    mounts = _combine(ws, signals, SIGNAL_WEIGHTS, segments)
    registry_only = _combine(ws, signals, {k: SIGNAL_WEIGHTS[k] for k in REGISTRY_SIGNALS}, segments)
    ws.engine.register_arrow("_mount_final", mounts)
    evidence = ws.engine.query(f"""
        SELECT uscc, segment_id, signal, source_id, detail, weight FROM (
            SELECT s.*, row_number() OVER (PARTITION BY s.uscc, s.segment_id, s.signal
                                           ORDER BY s.weight DESC, s.detail) AS k
            FROM _mount_signals s JOIN _mount_final m USING (uscc, segment_id)) t
        WHERE k <= {EVIDENCE_PER_SIGNAL} ORDER BY uscc, segment_id, signal, weight DESC""")
    with ws.stage("mount") as writer:
        writer.write_arrow("mounts", mounts)
        writer.write_arrow("mount_evidence", evidence)
        writer.write_arrow("mounts_registry_only", registry_only.select(["uscc", "segment_id", "share", "confidence",
                                                                         "rank"]))
        writer.stats.update({"firms_mounted": len(first_pass), "signals": ws.row_count("_mount_signals")})
    return StageResult("mount", writer.run_id, dict(writer.counts), dict(writer.stats))
