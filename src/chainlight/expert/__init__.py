"""Stage ``expert``: the AI industry-research expert — segment trends with citations, firm operating
analysis, profile text and an operating score with reasons.

Reads ``reports`` and ``facts`` (extract's verified trend and supply-claim facts), ``invoices``,
``entity_links``, ``mounts``, ``supply_edges`` and ``graph_features``. Writes:

- ``trends``: per segment and publication year, direction (up/flat/down), strength, growth figure,
  a ``disagreement`` flag and the citations (report id, offsets, exact span) behind it (``trends``);
- ``trend_figures``: report-level figures (growth rates, market sizes, capacities) with their spans;
- ``profiles``: per firm, the operating analysis (revenue level and year-on-year growth, like-for-like
  growth in continuing customer relationships, seasonally adjusted volatility, customers won and
  lost, concentration, chain position and steadiness, alignment with its segment's trend), its facts,
  and a template-built text (``expert.language``) whose every sentence lists the facts it uses;
- ``operating_scores``: a 0–100 score per firm with its top signed reasons (``operating`` explains
  the unsupervised construction). Built from invoices and graph features only, never report text;
- ``firm_claims``: what reports claim about specific firms (supply, capacity, high-tech, praise,
  instructions), linked to the firm, for the risk engine to cross-check — never used here.

Batch logic is SQL in ``expert/sql``; per-firm work (``operating.score_batch``,
``profile.profile_batch``) maps an Arrow batch to an Arrow batch, ready for Spark's ``mapInArrow``.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from chainlight import tables
from chainlight.config import Config
from chainlight.engine.base import load_sql, render
from chainlight.expert import claims, operating, profile, trends
from chainlight.mount import load_ontology
from chainlight.workspace import StageResult, Workspace

log = logging.getLogger(__name__)

BATCH_ROWS = 65_536

_c = tables.Column


def _sql_type(t: pa.DataType) -> str:
    simple = {pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN",
              pa.date32(): "DATE"}
    return simple.get(t, "STRUCT[]" if pa.types.is_list(t) else "VARCHAR")


def _columns(schema: pa.Schema) -> tuple[tables.Column, ...]:
    return tuple(_c(f.name, _sql_type(f.type)) for f in schema)


tables.register(tables.TableSpec("trends", "expert", (
    _c("segment_id", "VARCHAR"), _c("chain_id", "VARCHAR"), _c("period", "VARCHAR"), _c("direction", "VARCHAR"),
    _c("strength", "DOUBLE"), _c("growth_pct", "DOUBLE"), _c("reports", "BIGINT"), _c("statements", "BIGINT"),
    _c("disagreement", "BOOLEAN"), _c("citations", "STRUCT[]")), key=("segment_id", "period"),
    description="Per segment and year: the reports' trend judgment, its strength and its citations."))
tables.register(tables.TableSpec("trend_figures", "expert", _columns(trends.FIGURE_SCHEMA), key=("report_id", "start", "kind"),
    description="Report-level figures (growth rates, market sizes, capacities) with their spans."))
tables.register(tables.TableSpec("profiles", "expert", _columns(profile.PROFILE_SCHEMA), key=("uscc",),
    description="Per firm: the operating analysis, its facts and a profile text tracing to them."))
tables.register(tables.TableSpec("operating_scores", "expert", _columns(operating.SCORE_SCHEMA), key=("uscc",),
    description="Per firm: a 0–100 operating score from hard data, with its top signed reasons."))
tables.register(tables.TableSpec("firm_claims", "expert", _columns(claims.CLAIM_SCHEMA), key=("claim_id",),
    description="Report claims about specific firms, linked to the firm, kept only for cross-checking."))


def _main_segments(ws: Workspace) -> str:
    sql = ("SELECT uscc, segment_id, chain_id, tier FROM mounts WHERE rank = 1" if ws.table_exists("mounts") else
           "SELECT CAST(NULL AS VARCHAR) AS uscc, CAST(NULL AS VARCHAR) AS segment_id, "
           "CAST(NULL AS VARCHAR) AS chain_id, CAST(NULL AS VARCHAR) AS tier WHERE false")
    ws.engine.execute(f"CREATE OR REPLACE TEMP VIEW _expert_main_segments AS {sql}")
    return "_expert_main_segments"


def _links(ws: Workspace) -> str:
    if ws.table_exists("entity_links"):
        return "entity_links"
    ws.engine.execute("CREATE OR REPLACE TEMP VIEW _expert_links AS SELECT CAST(NULL AS VARCHAR) AS mention_id, "
                      "CAST(NULL AS VARCHAR) AS uscc WHERE false")
    return "_expert_links"


def _graph_inputs(ws: Workspace) -> tuple[str, str]:
    """supply_edges and graph_features, or empty stand-ins when the graph stage has not run."""
    import chainlight.graph  # noqa: F401  (registers the graph's tables: their declared columns, not a copy)

    names = []
    for table in ("supply_edges", "graph_features"):
        if ws.table_exists(table):
            names.append(table)
            continue
        spec = tables.get(table)
        assert spec is not None
        cols = ", ".join(f'CAST(NULL AS {c.type}) AS "{c.name}"' for c in spec.columns)
        ws.engine.execute(f"CREATE OR REPLACE TEMP VIEW _expert_{table} AS SELECT {cols} WHERE false")
        names.append(f"_expert_{table}")
    return names[0], names[1]


def operating_inputs(ws: Workspace, cfg: Config) -> str:
    """Build the per-firm indicator table from hard data (invoices, links, mounts, graph); return its name."""
    engine = ws.engine
    main = _main_segments(ws)
    edges, features = _graph_inputs(ws)
    engine.execute("CREATE OR REPLACE TEMP TABLE _expert_sales AS "
                   + render(load_sql("chainlight.expert", "sales"), {"links": _links(ws)}))
    engine.execute("CREATE OR REPLACE TEMP TABLE _expert_season AS "
                   + render(load_sql("chainlight.expert", "season"), {"sales": "_expert_sales"}))
    engine.execute("CREATE OR REPLACE TEMP TABLE _expert_edge_growth AS " + render(
        load_sql("chainlight.expert", "edge_growth"),
        {"sales": "_expert_sales", "season": "_expert_season", "main_segments": main}))
    engine.execute("CREATE OR REPLACE TEMP TABLE _expert_inputs AS " + render(
        load_sql("chainlight.expert", "firm_inputs"),
        {"sales": "_expert_sales", "season": "_expert_season", "edge_growth": "_expert_edge_growth",
         "supply_edges": edges, "graph_features": features, "main_segments": main}),
        {"gap_months": cfg.expert.churn_gap_months})
    engine.execute("CREATE OR REPLACE TEMP TABLE _expert_indicators AS " + render(
        load_sql("chainlight.expert", "indicators"), {"inputs": "_expert_inputs"}),
        {"k_customers": 2.0, "k_invoices": 20.0})
    return "_expert_indicators"


def scales(ws: Workspace, table: str) -> dict[str, operating.Scale]:
    """Each indicator's robust centre and spread over the firms of this workspace."""
    out = {}
    for ind in operating.INDICATORS:
        row = ws.engine.query(render(load_sql("chainlight.expert", "scale"), {"column": ind.column, "table": table}
                                     )).to_pylist()[0]
        out[ind.code] = operating.scale_from_stats(row["center"], row["mad"], row["sd"])
    return out


def run(ws: Workspace, cfg: Config) -> StageResult:
    ontology = load_ontology(cfg)
    engine = ws.engine
    # trends: offline statements (extract's trend facts), plus the LLM's reading where it is unsure
    reports = engine.query("SELECT report_id, title, published, text FROM reports ORDER BY report_id").to_pylist() \
        if ws.table_exists("reports") else []
    statements = trends.offline_statements(ws)
    llm_stats: dict = {}
    if cfg.llm.base_url or cfg.llm.local_model:
        extra, llm_stats = trends.llm_statements(ws, cfg, reports, statements, ontology)
        statements = pa.concat_tables([statements, extra])
    engine.execute("CREATE OR REPLACE TEMP TABLE _expert_trends AS " + trends.judgments(ws, cfg, statements),
                   {"half_life": cfg.expert.trend_half_life_days})
    segment_of = trends.report_segments(reports, statements, ontology)
    figure_table = trends.figures(reports, statements, segment_of)

    # firms: hard-data indicators → scores; indicators + the segment's latest trend → profiles
    indicators = operating_inputs(ws, cfg)
    firm_scales = scales(ws, indicators)
    engine.register_arrow("_expert_segment_names", pa.table({
        "segment_id": [s.id for s in ontology.segments().values()],
        "segment_name": [s.name for s in ontology.segments().values()]}))
    rows = engine.query(f"""
        SELECT i.*, t.direction AS segment_trend, n.segment_name
        FROM {indicators} i
        LEFT JOIN (SELECT * FROM _expert_trends QUALIFY row_number() OVER (PARTITION BY segment_id ORDER BY period DESC) = 1) t
               USING (segment_id)
        LEFT JOIN _expert_segment_names n USING (segment_id)
        ORDER BY i.uscc""")
    batches = rows.to_batches(max_chunksize=BATCH_ROWS) or [pa.RecordBatch.from_pylist([], schema=rows.schema)]
    scores = pa.Table.from_batches([operating.score_batch(b, firm_scales) for b in batches],
                                   schema=operating.SCORE_SCHEMA)
    profiles = pa.Table.from_batches([profile.profile_batch(b, cfg.expert.language) for b in batches],
                                     schema=profile.PROFILE_SCHEMA)
    with ws.stage("expert") as writer:
        writer.write_sql("trends", "SELECT * FROM _expert_trends ORDER BY segment_id, period")
        writer.write_arrow("trend_figures", figure_table)
        writer.write_arrow("profiles", profiles)
        writer.write_arrow("operating_scores", scores)
        writer.write_arrow("firm_claims", claims.firm_claims(ws))
        writer.stats.update({"statements": statements.num_rows, "llm": llm_stats,
                             "scales": {k: [round(s.center, 6), round(s.spread, 6)] for k, s in firm_scales.items()}})
    return StageResult("expert", writer.run_id, dict(writer.counts), dict(writer.stats))
