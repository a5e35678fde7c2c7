"""Stage ``extract``: knowledge from product texts, invoice line items, patents and research reports.

Reads ``reports``, ``products``, ``invoices`` (distinct item name + tax code), ``patents``,
``enterprises`` and ``aliases`` (to resolve firm names), and the ontology. Writes ``facts`` and
``rejected_facts`` (the review queue: every fact that failed verification, with the reason).

Columns of both: fact_id, kind (product_segment | supply_claim | trend | product_upstream), source (report | product |
item | patent), source_id, start, end (character span in the source text), span_text, subject (the
product term, firm or segment as written), relation, object (the buyer, for supply claims),
segment_id, direction, value (a stated figure), subject_uscc, object_uscc (resolved firms),
confidence, method (offline | llm); ``rejected_facts`` adds ``reason``.

The offline extractor runs on everything; when an LLM endpoint is configured (or ``llm.local_model``
starts the bundled one), the cascade asks it only about documents the offline path is unsure of,
within the call budget. Report text is untrusted: instruction-like sentences yield no fact, and a
fact from any extractor is kept only if its span is in the source and its firms resolve.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from functools import partial

import pyarrow as pa

from chainlight import ontology as ontology_stage
from chainlight import rules, tables
from chainlight.config import Config
from chainlight.engine.base import TableRef, quote_identifier
from chainlight.errors import LLMUnavailable
from chainlight.extract import batches
from chainlight.extract.batches import Verifier
from chainlight.extract.cascade import UNSURE_BELOW, LLMExtractor
from chainlight.extract.facts import Document
from chainlight.extract.llm import LLMClient
from chainlight.extract.offline import OfflineExtractor
from chainlight.resolve import blocks, shared_registry
from chainlight.workspace import StageResult, Workspace

log = logging.getLogger(__name__)

#: Runs on any engine: documents are read through ``Engine.map_batches``; only the learned item vocabulary and
#: the documents the LLM is asked about reach the driver. The registry (for the supply claims' firm names) is
#: a reference the block functions read themselves (``resolve.shared_registry``).
ENGINE_NEEDS: frozenset[str] = frozenset()

_c = tables.Column
FACT_COLUMNS = (
    _c("fact_id", "VARCHAR"), _c("kind", "VARCHAR"), _c("source", "VARCHAR"), _c("source_id", "VARCHAR"),
    _c("start", "BIGINT"), _c("end", "BIGINT"), _c("span_text", "VARCHAR"), _c("subject", "VARCHAR"),
    _c("relation", "VARCHAR"), _c("object", "VARCHAR"), _c("segment_id", "VARCHAR"), _c("direction", "VARCHAR"),
    _c("value", "DOUBLE"), _c("subject_uscc", "VARCHAR"), _c("object_uscc", "VARCHAR"), _c("confidence", "DOUBLE"),
    _c("method", "VARCHAR"))
tables.register(tables.TableSpec("facts", "extract", FACT_COLUMNS, key=("fact_id",),
                                 description="Verified facts with their evidence span."))
tables.register(tables.TableSpec("rejected_facts", "extract", (*FACT_COLUMNS, _c("reason", "VARCHAR")),
                                 description="Facts that failed verification, with the reason (a review queue)."))
SCHEMA = pa.schema([(c.name, pa.float64() if c.type == "DOUBLE" else pa.int64() if c.type == "BIGINT" else pa.string())
                    for c in FACT_COLUMNS])


#: Every document, in the order the LLM cascade visits them (reports, product listings, line items, patents).
DOCUMENTS_SQL = """
    SELECT 0 AS part, report_id AS id, 'report' AS kind, coalesce(text, '') AS text, CAST(NULL AS VARCHAR) AS uscc,
           CAST(NULL AS VARCHAR) AS code, report_id AS k1, '' AS k2 FROM reports
    UNION ALL
    SELECT 1, uscc || ':' || product_name, 'product', product_name, uscc, NULL, uscc, product_name FROM products
    UNION ALL
    SELECT 2, item_name || '|' || tax_code, 'item', item_name, NULL, tax_code, item_name, tax_code FROM _extract_item_docs
    UNION ALL
    SELECT 3, patent_id, 'patent', coalesce(title, ''), NULL, NULL, patent_id, '' FROM patents"""


def _candidates(ws: Workspace, offline: OfflineExtractor, segments: frozenset[str], registry: TableRef) -> None:
    """``_extract_candidates``: every offline fact, checked, computed where the documents live."""
    engine = ws.engine
    engine.execute("CREATE OR REPLACE TEMP TABLE _extract_item_docs AS SELECT DISTINCT item_name, "
                   "coalesce(tax_code, '') AS tax_code FROM invoices WHERE status = 'normal' AND item_name IS NOT NULL")
    sales = (f"SELECT seller_uscc AS seller, item_name, coalesce(tax_code, '') AS tax_code, "
             f"CAST(sum(amount_fen) AS DOUBLE) / 100 AS amount FROM {rules.sales_view(ws)} "
             f"GROUP BY seller_uscc, item_name, coalesce(tax_code, '') HAVING sum(amount_fen) > 0")
    reader = offline.reader
    readings = reader.read_items_on(engine, "_extract_reader", "SELECT item_name, tax_code FROM _extract_item_docs", sales)
    firms = reader.firm_profiles_on(engine, "_extract_firms", sales, readings)
    reader.for_engine(engine)
    plain = Verifier(segments)
    engine.map_batches("_extract_item_facts", f"SELECT * FROM {readings}",
                       partial(batches.item_facts, offline=offline, verifier=plain), batches.CANDIDATE_SCHEMA)
    engine.map_batches("_extract_text_facts", f"""
        SELECT 'product' AS kind, p.uscc || ':' || p.product_name AS id, p.product_name AS text, p.uscc,
               f.dist AS profile, {batches.PRODUCTS} AS _part, p.uscc AS _k1, p.product_name AS _k2
        FROM products p LEFT JOIN {firms} f ON f.seller = p.uscc""",
                       partial(batches.text_facts, offline=offline, verifier=plain), batches.CANDIDATE_SCHEMA)
    engine.map_batches("_extract_patent_facts", f"""
        SELECT 'patent' AS kind, patent_id AS id, coalesce(title, '') AS text, CAST(NULL AS VARCHAR) AS uscc,
               CAST(NULL AS VARCHAR) AS profile, {batches.PATENTS} AS _part, patent_id AS _k1, '' AS _k2 FROM patents""",
                       partial(batches.text_facts, offline=offline, verifier=plain), batches.CANDIDATE_SCHEMA)
    engine.map_batches("_extract_report_facts", "SELECT report_id AS id, text FROM reports",
                       partial(batches.report_facts, offline=offline, verifier=Verifier(segments, registry)),
                       batches.CANDIDATE_SCHEMA)
    engine.execute("CREATE OR REPLACE TEMP TABLE _extract_candidates AS " + " UNION ALL ".join(
        f"SELECT * FROM _extract_{part}_facts" for part in ("item", "text", "patent", "report")))


def _llm_candidates(ws: Workspace, client: LLMClient, segments: frozenset[str], registry: TableRef) -> None:
    """The cascade: documents whose offline facts are missing or weak (best confidence below ``cascade.UNSURE_BELOW``) go to the LLM
    from the driver (the call budget bounds them); its facts, each with its document, go back to the engine and
    are checked as offline ones are, by a block function (the registry is not read here)."""
    rows = ws.engine.query(f"""SELECT d.id, d.kind, d.text, d.uscc, d.code FROM ({DOCUMENTS_SQL}) d
        LEFT JOIN (SELECT source_id, max(confidence) AS best FROM _extract_candidates GROUP BY source_id) b
        ON b.source_id = d.id WHERE coalesce(b.best, 0) < $below ORDER BY d.part, d.k1, d.k2""",
                           {"below": UNSURE_BELOW}).to_pylist()
    docs = [Document(**r) for r in rows]
    by_id: dict[tuple[str, str], Document] = {(d.kind, d.id): d for d in docs}
    facts = LLMExtractor(client, sorted(segments)).extract_many(docs)
    ws.engine.register_arrow("_extract_llm_raw", pa.Table.from_pylist([
        batches.llm_fact_row(fact, by_id[(fact.source, fact.source_id)], n) for n, fact in enumerate(facts)],
        schema=batches.LLM_FACT_SCHEMA))
    ws.engine.map_batches("_extract_llm_facts", "SELECT * FROM _extract_llm_raw",
                          partial(batches.llm_facts, verifier=Verifier(segments, registry)), batches.CANDIDATE_SCHEMA)
    ws.engine.execute("INSERT INTO _extract_candidates SELECT * FROM _extract_llm_facts")


@contextlib.contextmanager
def llm_session(ws: Workspace, cfg: Config) -> Iterator[LLMClient | None]:
    settings = cfg.llm
    if not settings.base_url and not settings.local_model:
        yield None
        return
    server: contextlib.AbstractContextManager[str | None] = contextlib.nullcontext(settings.base_url)
    if not settings.base_url:
        from chainlight.extract.local_model import MODEL_NAME, LocalModelServer
        server = LocalModelServer()
        settings = settings.model_copy(update={"model": MODEL_NAME})
    try:
        with server as url:
            client = LLMClient(settings.model_copy(update={"base_url": url}), ws.root / "llm_cache.sqlite")
            try:
                yield client
            finally:
                client.close()
    except LLMUnavailable as exc:
        log.warning("LLM unavailable, offline extraction only: %s", exc)
        yield None


def run(ws: Workspace, cfg: Config) -> StageResult:
    try:
        return _run(ws, cfg)
    finally:
        blocks.forget()  # this process's resolver and gazetteer (an executor's worker keeps its own until it exits)


def _run(ws: Workspace, cfg: Config) -> StageResult:
    ontology = ontology_stage.load(cfg.ontology)
    segments = frozenset(ontology.segments())
    registry = shared_registry(ws)
    offline = OfflineExtractor(ontology, registry, seed=cfg.seed)
    _candidates(ws, offline, segments, registry)
    llm_stats: dict[str, int] = {}
    with llm_session(ws, cfg) as client:
        if client is not None:
            _llm_candidates(ws, client, segments, registry)
            llm_stats = client.stats.as_dict()
    engine = ws.engine
    engine.map_batches("_extract_ignored", "SELECT report_id AS id, text FROM reports", batches.ignored_instructions,
                       batches.IGNORED_SCHEMA)
    columns = ", ".join(quote_identifier(c) for c in SCHEMA.names)
    with ws.stage("extract") as writer:
        for table, which in (("facts", "IS NULL"), ("rejected_facts", "IS NOT NULL")):
            writer.write_sql(table, f"SELECT {columns}{', reason' if which != 'IS NULL' else ''} FROM _extract_candidates "
                                    f"WHERE reason {which} ORDER BY _part, _k1, _k2, _n")
        writer.stats.update({"documents": engine.scalar(f"SELECT count(*) FROM ({DOCUMENTS_SQL}) d"),
                             "instructions_ignored": engine.scalar(
                                 "SELECT CAST(coalesce(sum(ignored), 0) AS BIGINT) FROM _extract_ignored"),
                             "llm": llm_stats})
    return StageResult("extract", writer.run_id, dict(writer.counts), dict(writer.stats))
