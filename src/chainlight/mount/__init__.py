"""Stage ``mount``: each enterprise's main business placed on chain segments, with the evidence.

Reads ``enterprises``, ``products``, ``invoices``, ``patents`` and ``entity_links`` (resolved invoice
buyers and patent holders; without it, the fallback of ``rules.links_view``), and the
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
Line items and product texts are read by ``ontology.items.ItemReader`` (the item parsed as
written; freight, fees, pallets and rebates give no evidence; lexicon and tax code, then names learned
from the items it is sure of, the sellers' other goods, and a character n-gram model). The customer
signal uses a first pass without it, so it is not circular.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from functools import partial

import pyarrow as pa

from chainlight import ontology as ontology_stage
from chainlight import rules, tables
from chainlight.config import Config
from chainlight.engine.base import check_identifier, load_sql, render
from chainlight.ontology.items import ItemReader, from_column
from chainlight.ontology.model import Ontology
from chainlight.ontology.signals import SegmentLexicon, SegmentTextModel
from chainlight.workspace import StageResult, Workspace

log = logging.getLogger(__name__)

SIGNAL_WEIGHTS = {"invoice_item": 1.0, "product": 0.5, "customers": 0.3, "patent": 0.3, "scope": 0.15,
                  "industry_code": 0.1}
REGISTRY_SIGNALS = ("scope", "industry_code")
MIN_SHARE = 0.2
# Invoice evidence earns its say with its mass: a firm's line items speak with weight n / (n + k) for n
# invoices behind them, so one stray service or office-supply line cannot outvote a registry and product
# listings that agree (k lines = half the say). k is set by that reasoning, not fitted; a firm with the
# typical dozens of invoices keeps > 90% of the say.
INVOICE_HALF_SAY_LINES = 2
EVIDENCE_PER_SIGNAL = 3

_c = tables.Column
#: Runs on any engine: per-text work goes through ``Engine.map_batches``, the rest is SQL.
ENGINE_NEEDS: frozenset[str] = frozenset()

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

def _item_signals(ws: Workspace, reader: ItemReader) -> None:
    """Distinct items are read where they live (``ItemReader.read_items_on``: parsed as written,
    non-product lines without evidence, names learned from the items it is sure of); amounts are summed per
    firm and segment in SQL."""
    engine = ws.engine
    engine.execute("CREATE OR REPLACE TEMP TABLE _mount_sales AS "
                   + render(load_sql("chainlight.mount", "item_sales"), {"sales": rules.sales_view(ws)}))
    readings = reader.read_items_on(engine, "_mount_reader", "SELECT DISTINCT item_name, tax_code FROM _mount_sales",
                                    "SELECT uscc AS seller, item_name, tax_code, amount FROM _mount_sales")
    engine.map_batches("_mount_items", f"SELECT item_name, tax_code, dist FROM {readings}", _item_rows, ITEM_SCHEMA)
    # every sold item is evidence (scored in full); the table of evidence keeps the strongest few
    engine.execute("""CREATE OR REPLACE TEMP TABLE _mount_item_signals AS
        SELECT s.uscc, c.segment_id, 'invoice_item' AS signal, s.amount * c.p AS weight,
               s.example_invoice AS source_id, s.item_name AS detail
        FROM _mount_sales s JOIN _mount_items c ON c.item_name = s.item_name AND c.tax_code = s.tax_code""")
    engine.execute("""CREATE OR REPLACE TEMP TABLE _mount_signal_say AS
        SELECT uscc, 'invoice_item' AS signal, CAST(n AS DOUBLE) / (n + $half) AS say
        FROM (SELECT uscc, sum(invoices) AS n FROM _mount_sales
              WHERE (item_name, tax_code) IN (SELECT item_name, tax_code FROM _mount_items) GROUP BY uscc) t""",
                   {"half": INVOICE_HALF_SAY_LINES})


ITEM_SCHEMA = pa.schema([("item_name", pa.string()), ("tax_code", pa.string()), ("segment_id", pa.string()),
                         ("p", pa.float64())])
VOTE_SCHEMA = pa.schema([("key", pa.string()), ("segment_id", pa.string()), ("vote", pa.float64()),
                         ("detail", pa.string())])
Votes = list[tuple[str, float, str]]


def _item_rows(batch: pa.RecordBatch) -> pa.Table:
    """Readings → one row per item and segment of its distribution."""
    rows = [{"item_name": r["item_name"], "tax_code": r["tax_code"], "segment_id": s, "p": p}
            for r in batch.to_pylist() for s, p in from_column(r["dist"]).items()]
    return pa.Table.from_pylist(rows, schema=ITEM_SCHEMA)


def _vote_rows(batch: pa.RecordBatch, *, votes_for: Callable[[str], Votes]) -> pa.Table:
    """Per distinct text or code (column ``key``): its (segment, vote, detail) rows."""
    rows = [{"key": key, "segment_id": segment, "vote": vote, "detail": detail}
            for key in batch.column("key").to_pylist() for segment, vote, detail in votes_for(key)]
    return pa.Table.from_pylist(rows, schema=VOTE_SCHEMA)


def _map_votes(ws: Workspace, name: str, keys: str, votes_for: Callable[[str], Votes]) -> None:
    """Temporary table ``name`` (key, segment_id, vote, detail), a table SQL can join to firms, from the
    distinct keys of query ``keys`` (column ``key``): computed where the keys live."""
    ws.engine.map_batches(name, keys, partial(_vote_rows, votes_for=votes_for), VOTE_SCHEMA)


def _register_votes(ws: Workspace, name: str, keys: list[str], votes_for: Callable[[str], Votes]) -> None:
    """``_map_votes`` for a few keys the driver holds (the ontology's own)."""
    ws.engine.register_arrow(name, _vote_rows(pa.record_batch([pa.array(keys, pa.string())], names=["key"]),
                                              votes_for=votes_for))


def _product_rows(batch: pa.RecordBatch, *, reader: ItemReader) -> pa.Table:
    """Product listings, read as ``extract`` reads them, as votes."""
    names = [n or "" for n in batch.column("key").to_pylist()]
    readings = reader.read_products(names, [None] * len(names))
    rows = [{"key": n, "segment_id": s, "vote": p, "detail": n}
            for n, reading in zip(names, readings, strict=True) for s, p in reading.distribution.items()]
    return pa.Table.from_pylist(rows, schema=VOTE_SCHEMA)


def _product_signals(ws: Workspace, reader: ItemReader) -> str:
    """Product listings, read as ``extract`` reads them; a listing the lexicon and the learned names do not
    read is left to the n-gram model alone (not the firm's item profile: that would count the items twice)."""
    ws.engine.map_batches("_mount_product_votes", "SELECT DISTINCT product_name AS key FROM products "
                          "WHERE product_name IS NOT NULL", partial(_product_rows, reader=reader.for_engine(ws.engine)),
                          VOTE_SCHEMA)
    return """SELECT p.uscc, v.segment_id, 'product' AS signal, v.vote AS weight, p.product_name AS source_id, v.detail
              FROM products p JOIN _mount_product_votes v ON v.key = p.product_name"""


def _patent_votes(key: str, *, lexicon: SegmentLexicon) -> Votes:
    ipc, title = key.split("|", 1)
    found: dict[str, float] = defaultdict(float)
    for segment in lexicon.ipc_segments(ipc):
        found[segment] += 0.5
    for hit in lexicon.product_hits(title):
        for segment in hit.segments:
            found[segment] += 1.0 / len(hit.segments)
    return [(segment, vote, f"{ipc} {title}") for segment, vote in found.items()]


def _patent_signals(ws: Workspace, lexicon: SegmentLexicon) -> str:
    links = rules.links_view(ws)
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE _mount_patents AS SELECT p.patent_id, coalesce(p.title, '') "
                      f"AS title, coalesce(p.ipc, '') AS ipc, l.uscc FROM patents p "
                      f"LEFT JOIN {check_identifier(links)} l ON l.mention_id = 'patent:' || p.patent_id")
    _map_votes(ws, "_mount_patent_votes", "SELECT DISTINCT ipc || '|' || title AS key FROM _mount_patents "
               "WHERE uscc IS NOT NULL", partial(_patent_votes, lexicon=lexicon))
    return """SELECT p.uscc, v.segment_id, 'patent' AS signal, v.vote AS weight, p.patent_id AS source_id, v.detail
              FROM _mount_patents p JOIN _mount_patent_votes v ON v.key = p.ipc || '|' || p.title"""


def _scope_votes(scope: str, *, lexicon: SegmentLexicon) -> Votes:
    return [(segment, 1.0 / len(hit.segments), hit.term)
            for hit in lexicon.scope_hits(scope) + lexicon.product_hits(scope) for segment in hit.segments]


def _code_votes(code: str, *, lexicon: SegmentLexicon) -> Votes:
    found = lexicon.industry_segments(code)
    return [(segment, 1.0 / len(found), code) for segment in found]


def _registry_signals(ws: Workspace, lexicon: SegmentLexicon) -> str:
    _map_votes(ws, "_mount_scope_votes", "SELECT DISTINCT scope AS key FROM enterprises WHERE scope IS NOT NULL",
               partial(_scope_votes, lexicon=lexicon))
    _map_votes(ws, "_mount_code_votes", "SELECT DISTINCT industry_code AS key FROM enterprises "
               "WHERE industry_code IS NOT NULL", partial(_code_votes, lexicon=lexicon))
    return """SELECT e.uscc, v.segment_id, 'scope' AS signal, v.vote AS weight, CAST(NULL AS VARCHAR) AS source_id,
                     v.detail FROM enterprises e JOIN _mount_scope_votes v ON v.key = e.scope
              UNION ALL
              SELECT e.uscc, v.segment_id, 'industry_code', v.vote, NULL, v.detail
              FROM enterprises e JOIN _mount_code_votes v ON v.key = e.industry_code"""


def _customer_signals(ws: Workspace, ontology: Ontology) -> str:
    """Segments upstream of the customers' first-pass segments (``_mount_first``), weighted by sales."""
    upstream: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for edge in ontology.edges():
        upstream[edge.target].append((edge.source, edge.weight or 0.1))
    targets = sorted(upstream)
    _register_votes(ws, "_mount_upstream", targets, lambda target: [
        (source, weight / sum(w for _, w in upstream[target]), target) for source, weight in upstream[target]])
    customers = render(load_sql("chainlight.mount", "customers"),
                       {"links": rules.links_view(ws), "sales": rules.sales_view(ws)})
    return f"""SELECT s.uscc, u.segment_id, 'customers' AS signal, s.amount * u.vote AS weight,
                      s.buyer AS source_id, u.detail
               FROM ({customers}) s JOIN _mount_first f ON f.uscc = s.buyer JOIN _mount_upstream u ON u.key = f.segment_id"""


def _combine(ws: Workspace, into: str, weights: dict[str, float], segments: pa.Table) -> None:
    """Shares per firm and segment from ``_mount_signals``, written to the temp table ``into``."""
    engine = ws.engine
    engine.register_arrow("_mount_weights", pa.table({"signal": list(weights), "signal_weight": list(weights.values())}))
    engine.register_arrow("_mount_segments", segments)
    sql = render(load_sql("chainlight.mount", "combine"), {
        "signals": "_mount_signals", "signal_weights": "_mount_weights", "signal_say": "_mount_signal_say",
        "segments": "_mount_segments"})
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {check_identifier(into)} AS {sql}", {"min_share": MIN_SHARE})


def run(ws: Workspace, cfg: Config) -> StageResult:
    ontology = ontology_stage.load(cfg.ontology)
    lexicon, model = SegmentLexicon(ontology), SegmentTextModel(ontology, cfg.seed)
    reader = ItemReader(lexicon, model)
    segments = pa.table({
        "segment_id": [s.id for c in ontology.chains for s in c.segments],
        "chain_id": [c.id for c in ontology.chains for _ in c.segments],
        "tier": [s.tier for c in ontology.chains for s in c.segments]})
    engine = ws.engine
    _item_signals(ws, reader)
    parts = ["SELECT * FROM _mount_item_signals", _product_signals(ws, reader), _patent_signals(ws, lexicon),
             _registry_signals(ws, lexicon)]
    engine.execute("CREATE OR REPLACE TEMP TABLE _mount_signals AS " + " UNION ALL ".join(f"({p})" for p in parts))
    _combine(ws, "_mount_pass1", {k: v for k, v in SIGNAL_WEIGHTS.items() if k != "customers"}, segments)
    engine.execute("CREATE OR REPLACE TEMP TABLE _mount_first AS SELECT uscc, segment_id FROM _mount_pass1 WHERE rank = 1")
    engine.execute("INSERT INTO _mount_signals " + _customer_signals(ws, ontology))
    _combine(ws, "_mount_final", SIGNAL_WEIGHTS, segments)
    _combine(ws, "_mount_registry", {k: SIGNAL_WEIGHTS[k] for k in REGISTRY_SIGNALS}, segments)
    with ws.stage("mount") as writer:
        writer.write_sql("mounts", "SELECT * FROM _mount_final ORDER BY uscc, rank")
        writer.write_sql("mount_evidence", f"""
            SELECT uscc, segment_id, signal, source_id, detail, weight FROM (
                SELECT s.*, row_number() OVER (PARTITION BY s.uscc, s.segment_id, s.signal
                                               ORDER BY s.weight DESC, s.detail, s.source_id) AS k
                FROM _mount_signals s JOIN _mount_final m USING (uscc, segment_id)) t
            WHERE k <= {EVIDENCE_PER_SIGNAL} ORDER BY uscc, segment_id, signal, weight DESC, detail, source_id""")
        writer.write_sql("mounts_registry_only", "SELECT uscc, segment_id, share, confidence, rank FROM _mount_registry "
                                                 "ORDER BY uscc, rank")
        writer.stats.update({"firms_mounted": engine.scalar("SELECT count(*) FROM _mount_first"),
                             "signals": engine.scalar("SELECT count(*) FROM _mount_signals")})
    return StageResult("mount", writer.run_id, dict(writer.counts), dict(writer.stats))
