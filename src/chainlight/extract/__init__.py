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
import hashlib
import logging
from collections.abc import Iterator

import pyarrow as pa

from chainlight import ontology as ontology_stage
from chainlight import rules, tables
from chainlight.config import Config
from chainlight.errors import LLMUnavailable
from chainlight.extract.cascade import LLMExtractor, unsure
from chainlight.extract.facts import Document, Fact, Rejected, verify
from chainlight.extract.llm import LLMClient
from chainlight.extract.offline import OfflineExtractor
from chainlight.resolve import registry_names
from chainlight.resolve.matcher import Resolver
from chainlight.workspace import StageResult, Workspace

log = logging.getLogger(__name__)

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


def documents(ws: Workspace) -> list[Document]:
    q = ws.engine.query
    docs = [Document(id=r["report_id"], kind="report", text=r["text"] or "")
            for r in q("SELECT report_id, text FROM reports ORDER BY report_id").to_pylist()]
    docs += [Document(id=f"{r['uscc']}:{r['product_name']}", kind="product", text=r["product_name"], uscc=r["uscc"])
             for r in q("SELECT uscc, product_name FROM products ORDER BY 1, 2").to_pylist()]
    docs += [Document(id=item_id(r["item_name"], r["tax_code"]), kind="item", text=r["item_name"],
                      code=r["tax_code"] or "")
             for r in q("SELECT DISTINCT item_name, tax_code FROM invoices WHERE status = 'normal' ORDER BY 1, 2")
             .to_pylist()]
    docs += [Document(id=r["patent_id"], kind="patent", text=r["title"] or "")
             for r in q("SELECT patent_id, title FROM patents ORDER BY patent_id").to_pylist()]
    return docs


def item_id(item_name: str, tax_code: str | None) -> str:
    return f"{item_name}|{tax_code or ''}"


def item_sales(ws: Workspace) -> list[tuple[str, str, float]]:
    """(seller, line-item document id, amount) over the sales: who sells which item, for the reader's
    seller co-occurrence."""
    rows = ws.engine.query(f"""SELECT seller_uscc, item_name, tax_code, CAST(sum(amount_fen) AS DOUBLE) / 100 AS amount
        FROM {rules.sales_view(ws)} GROUP BY 1, 2, 3
        HAVING sum(amount_fen) > 0 ORDER BY 1, 2, 3""").to_pylist()
    return [(r["seller_uscc"], item_id(r["item_name"], r["tax_code"]), r["amount"]) for r in rows]


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


def _fact_id(fact: Fact) -> str:
    material = f"{fact.method}|{fact.kind}|{fact.source}|{fact.source_id}|{fact.start}|{fact.end}|{fact.segment_id}"
    return hashlib.sha1(f"{material}|{fact.subject}|{fact.object}".encode()).hexdigest()[:20]


def _table(rows: list[Fact], reasons: list[str] | None = None) -> pa.Table:
    data: dict[str, list] = {name: [] for name in SCHEMA.names}
    for fact in rows:
        record = fact.model_dump()
        data["fact_id"].append(_fact_id(fact))
        for name in SCHEMA.names[1:]:
            data[name].append(record.get(name))
    table = pa.table(data, schema=SCHEMA)
    return table.append_column("reason", pa.array(reasons, pa.string())) if reasons is not None else table


def run(ws: Workspace, cfg: Config) -> StageResult:
    ontology = ontology_stage.load(cfg.ontology)
    segments = sorted(ontology.segments())
    registry = registry_names(ws)
    resolver = Resolver(registry)
    offline = OfflineExtractor(ontology, sorted({name for _, name, _ in registry}), seed=cfg.seed,
                               sales=item_sales(ws))
    docs = documents(ws)
    by_id: dict[tuple[str, str], Document] = {(d.kind, d.id): d for d in docs}
    candidates = offline.extract_many(docs)
    llm_stats: dict[str, int] = {}
    with llm_session(ws, cfg) as client:
        if client is not None:
            candidates += LLMExtractor(client, segments).extract_many(unsure(docs, candidates))
            llm_stats = client.stats.as_dict()
    kept: list[Fact] = []
    rejected: list[Rejected] = []
    cache: dict[str, str | None] = {}

    def resolve(name: str) -> str | None:
        if name not in cache:
            cache[name] = resolver.resolve(name).uscc
        return cache[name]

    for fact in candidates:
        outcome = verify(fact, by_id[(fact.source, fact.source_id)], resolve, set(segments))
        (rejected if isinstance(outcome, Rejected) else kept).append(outcome)  # type: ignore[arg-type]
    with ws.stage("extract") as writer:
        writer.write_arrow("facts", _table(kept))
        writer.write_arrow("rejected_facts", _table([r.fact for r in rejected], [r.reason for r in rejected]))
        writer.stats.update({"documents": len(docs), "instructions_ignored": offline.ignored_instructions,
                             "llm": llm_stats})
    return StageResult("extract", writer.run_id, dict(writer.counts), dict(writer.stats))
