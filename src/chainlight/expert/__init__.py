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

import json
import logging
from datetime import date
from functools import partial

import numpy as np
import pyarrow as pa

from chainlight import rules, tables
from chainlight.config import Config
from chainlight.engine.base import check_identifier, load_sql, render, stable_bucket
from chainlight.expert import claims, operating, profile, trends
from chainlight.ontology import load as load_ontology
from chainlight.ontology.model import Ontology
from chainlight.workspace import StageResult, Workspace

#: Per-firm work runs as ``Engine.map_batches`` (on the executors on Spark); SQL goes through the dialect.
ENGINE_NEEDS: frozenset[str] = frozenset()

log = logging.getLogger(__name__)

SAMPLE_FIRMS = 100_000  # seasonal factors and the score's weight fit read at most about this many firms

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


def _table_or_empty(ws: Workspace, table: str) -> str:
    """An earlier stage's table, or an empty stand-in with its registered columns when that stage has not
    run (the expert then works from what there is: e.g. written buyer USCCs without entity_links)."""
    import chainlight.extract  # noqa: F401  (registers the tables read here: their declared columns, not a copy)
    import chainlight.graph  # noqa: F401
    import chainlight.resolve  # noqa: F401

    return ws.table_or_empty(table)


def prepare_sales(ws: Workspace) -> None:
    """Every firm's invoice lines as seller with the customer resolved, and every firm's sample bucket
    (``_expert_firm_buckets``: a stable hash of the USCC, the same on every engine), once per run."""
    ws.engine.execute("CREATE OR REPLACE TEMP TABLE _expert_firm_buckets AS "
                      f"SELECT uscc, {stable_bucket('uscc')} AS bucket FROM enterprises")
    ws.engine.execute("CREATE OR REPLACE TEMP TABLE _expert_sales_all AS "
                      + render(load_sql("chainlight.expert", "sales"),
                             {"links": _table_or_empty(ws, "entity_links"), "sales_rule": rules.sales_view(ws)}))


def season(ws: Workspace, sales: str, out: str) -> str:
    """The seasonal factors (log, per calendar month) of the seller lines of ``sales`` into temp table
    ``out``, from a hash sample of at most ``SAMPLE_FIRMS`` firms; ``prepare_sales`` must have run."""
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS " + render(
        load_sql("chainlight.expert", "season"), {"sales": sales, "firm_buckets": "_expert_firm_buckets"}),
        {"permille": _permille(ws)})
    return out


def seasons_as_of(ws: Workspace, dates: list[date], out: str) -> str:
    """(as_of, month_of_year, log_factor) into temp table ``out``: for each of ``dates`` the seasonal factors
    from the sales issued up to that date only, as the expert's point-in-time indicators use them (so a
    feature of a past date reads no later invoice, not even through twelve factors)."""
    parts = []
    for day in sorted(set(dates)):
        ws.engine.execute("CREATE OR REPLACE TEMP VIEW _expert_sales_upto AS SELECT * FROM _expert_sales_all "
                          f"WHERE issue_date <= DATE '{day.isoformat()}'")  # a date
        season(ws, "_expert_sales_upto", "_expert_season_upto")
        parts.append(ws.engine.query("SELECT month_of_year, log_factor FROM _expert_season_upto ORDER BY 1"))
        parts[-1] = parts[-1].append_column("as_of", pa.array([day] * parts[-1].num_rows, pa.date32()))
    schema = pa.schema([("month_of_year", pa.int64()), ("log_factor", pa.float64()), ("as_of", pa.date32())])
    ws.engine.register_arrow(out, pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table())
    return out


def _permille(ws: Workspace) -> int:
    firms = ws.row_count("enterprises")
    return 1000 if firms <= SAMPLE_FIRMS else max(1, SAMPLE_FIRMS * 1000 // firms)


def operating_inputs(ws: Workspace, cfg: Config, as_of: date | None = None, sample: bool = True) -> str:
    """Build the per-firm indicator table from hard data (invoices, links, mounts, graph); return its name.

    ``prepare_sales`` must have run. With ``as_of``, only invoices issued up to that date are read (point
    in time, for fitting on the outcomes observed then) for a hash sample of at most ``SAMPLE_FIRMS``
    firms (every firm with ``sample=False``); the graph's supply classification is used as is."""
    engine = ws.engine
    main = _main_segments(ws)
    edges, features = _table_or_empty(ws, "supply_edges"), _table_or_empty(ws, "graph_features")
    tag = "" if as_of is None else "_asof"
    sales = f"_expert_sales{tag}"
    permille = _permille(ws)
    firms_permille = 1000 if as_of is None or not sample else permille
    cutoff = "" if as_of is None else \
        (f" WHERE issue_date <= DATE '{as_of.isoformat()}' AND uscc IN "  # a date and an int
         f"(SELECT uscc FROM _expert_firm_buckets WHERE bucket < {firms_permille})")
    engine.execute(f"CREATE OR REPLACE TEMP VIEW {sales} AS SELECT * FROM _expert_sales_all{cutoff}")
    names = {"sales": sales, "firm_buckets": "_expert_firm_buckets", "season": f"_expert_season{tag}",
             "edge_growth": f"_expert_edge_growth{tag}", "inputs": f"_expert_inputs{tag}",
             "indicators": f"_expert_indicators{tag}", "obs": f"_expert_obs{tag}", "recent": f"_expert_recent{tag}"}
    season(ws, sales, names["season"])
    day = "(SELECT max(issue_date) FROM _expert_sales_all)" if as_of is None else f"DATE '{as_of.isoformat()}'"
    engine.execute(f"CREATE OR REPLACE TEMP VIEW {names['obs']} AS SELECT uscc, {day} AS as_of "
                   f"FROM _expert_firm_buckets WHERE bucket < {firms_permille}")  # a date and an int
    engine.execute(f"CREATE OR REPLACE TEMP VIEW {names['season']}_dated AS "
                   f"SELECT {day} AS as_of, month_of_year, log_factor FROM {names['season']}")
    rules.recent_movement(ws, names["obs"], sales, f"{names['season']}_dated", operating.RECENT_MONTHS,
                          operating.RECENT_PRIOR, names["recent"])
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {names['edge_growth']} AS " + render(
        load_sql("chainlight.expert", "edge_growth"), {**names, "main_segments": main}))
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {names['inputs']} AS " + render(
        load_sql("chainlight.expert", "firm_inputs"),
        {**names, "supply_edges": edges, "graph_features": features, "main_segments": main}),
        {"gap_months": cfg.expert.churn_gap_months, "firms_permille": firms_permille})
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {names['indicators']} AS " + render(
        load_sql("chainlight.expert", "indicators"), names), {"k_customers": 2.0, "k_invoices": 20.0})
    return names["indicators"]


def scales(ws: Workspace, table: str) -> dict[str, operating.Scale]:
    """Each indicator's robust centre and spread over the firms of this workspace (one query for all)."""
    ws.engine.execute("CREATE OR REPLACE TEMP VIEW _expert_scale_long AS " + " UNION ALL ".join(
        f"SELECT '{ind.code}' AS indicator, CAST({check_identifier(ind.column)} AS DOUBLE) AS value "
        f"FROM {check_identifier(table)}" for ind in operating.INDICATORS))
    rows = {r["indicator"]: r for r in ws.engine.query(
        render(load_sql("chainlight.expert", "scale"), {"long": "_expert_scale_long"})).to_pylist()}
    empty = {"center": None, "mad": None, "sd": None}
    return {ind.code: operating.scale_from_stats(*(rows.get(ind.code, empty)[k] for k in ("center", "mad", "sd")))
            for ind in operating.INDICATORS}


def score_model(ws: Workspace, cfg: Config, indicators: str) -> operating.ScoreModel:
    """Weights fitted on the outcomes observed up to ``expert.train_until`` (point in time), else the prior."""
    current = scales(ws, indicators)
    prior = operating.ScoreModel(operating.PRIOR, current, "prior: fixed weights, credit-reasoning signs")
    if not ws.table_exists("outcomes"):
        return prior
    # observation dates with two full years of invoices behind them (so year-on-year growth is defined)
    dates = [r["observed_at"] for r in ws.engine.query(
        "SELECT DISTINCT observed_at FROM outcomes WHERE observed_at <= $until AND observed_at >= "
        "(SELECT min(issue_date) FROM _expert_sales_all) + INTERVAL 23 MONTH ORDER BY 1",
        {"until": cfg.expert.train_until}).to_pylist()]
    zs, labels = [], []
    for observed in dates:
        table = operating_inputs(ws, cfg, as_of=observed)
        batch = ws.engine.query(f"SELECT i.*, o.defaulted_12m FROM {table} i JOIN outcomes o "
                                "ON o.uscc = i.uscc AND o.observed_at = $d ORDER BY i.uscc", {"d": observed})
        z, _ = operating.standardised(batch, scales(ws, table))
        zs.append(z)
        labels.append(np.asarray(batch.column("defaulted_12m").to_numpy(zero_copy_only=False), dtype=bool))
    if not zs:
        return prior
    weights = operating.fit_weights(np.vstack(zs), np.concatenate(labels))
    if weights is None:
        return prior
    n = sum(len(y) for y in labels)
    return operating.ScoreModel(weights, current, f"outcomes: logistic, {n} point-in-time observations to "
                                                  f"{max(dates).isoformat()}, credit-reasoning sign constraints, "
                                                  "chain position a control (not scored)")


def scores_as_of(ws: Workspace, cfg: Config, dates: list[date], out: str) -> str:
    """Temp table ``out`` of (uscc, score, as_of): the operating score as it stood on each of ``dates``, from
    the invoices issued up to that date only, with the weights of the expert stage's last run and each date's
    own scales. For the risk engine's history rows, so no score it learns from or is tested on reads invoices
    issued after its observation date (the stage's own ``operating_scores`` is as of the data's end). The
    scores stay in the engine (firms × dates rows): only each date's scales reach the driver. ``prepare_sales``
    must have run."""
    last = ws.last_run("expert")
    stats = last["stats"] if last else {}
    stats = json.loads(stats) if isinstance(stats, str) else stats or {}
    weights = {i.code: float(stats.get("score_weights", {}).get(i.code, operating.PRIOR[i.code]))
               for i in operating.INDICATORS}
    parts = ["SELECT CAST(NULL AS VARCHAR) AS uscc, CAST(NULL AS DOUBLE) AS score, CAST(NULL AS DATE) AS as_of "
             "WHERE 1 = 0"]
    for number, day in enumerate(sorted(set(dates))):
        table = operating_inputs(ws, cfg, as_of=day, sample=False)
        model = operating.ScoreModel(weights, scales(ws, table), "point in time")
        scored = f"{check_identifier(out)}_{number}"
        ws.engine.map_batches(scored, f"SELECT * FROM {table}", partial(operating.score_batch, model=model),
                              operating.SCORE_SCHEMA)
        parts.append(f"SELECT uscc, score, DATE '{day.isoformat()}' AS as_of FROM {scored}")
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS " + " UNION ALL ".join(parts))
    return out


def firm_rows(ws: Workspace, indicators: str, ontology: Ontology) -> str:
    """A query for the indicator rows with the segment's latest trend and name: what profiles are built
    from (the score reads only the indicator columns)."""
    ws.engine.register_arrow("_expert_segment_names", pa.table({
        "segment_id": [s.id for s in ontology.segments().values()],
        "segment_name": [s.name for s in ontology.segments().values()]}))
    return f"""
        SELECT i.*, t.direction AS segment_trend, n.segment_name
        FROM {indicators} i
        LEFT JOIN (SELECT * FROM _expert_trends
                   QUALIFY row_number() OVER (PARTITION BY segment_id ORDER BY period DESC) = 1) t USING (segment_id)
        LEFT JOIN _expert_segment_names n USING (segment_id)"""


def read_trends(ws: Workspace, cfg: Config, ontology: Ontology) -> tuple[pa.Table, dict]:
    """Judge the segment trends into the temp table ``_expert_trends``; return the report figures and
    the reader's figures. Offline statements are extract's trend facts; the LLM adds its reading of the
    reports the offline reader is unsure of, when one is configured."""
    reports = ws.engine.query("SELECT report_id, title, published, text FROM reports ORDER BY report_id").to_pylist() \
        if ws.table_exists("reports") else []
    statements = trends.offline_statements(ws)
    main = _main_segments(ws)
    named = {r["report_id"]: r["segment_id"] for r in ws.engine.query(render(
        load_sql("chainlight.expert", "report_segments"),
        {"facts": _table_or_empty(ws, "facts"), "links": _table_or_empty(ws, "entity_links"),
         "main_segments": main})).to_pylist()}
    vocabulary = trends.vocabulary_segments(reports, ws.engine.query(render(
        load_sql("chainlight.expert", "term_segments"), {"products": _table_or_empty(ws, "products"),
                                                         "main_segments": main}))) if reports else {}
    segment_of = trends.report_segments(reports, statements, ontology, vocabulary, named)
    context = trends.context_statements(reports, statements, segment_of)
    llm_stats: dict = {}
    if cfg.llm.base_url or cfg.llm.local_model:
        extra, llm_stats = trends.llm_statements(ws, cfg, reports, statements, segment_of, ontology)
        statements = pa.concat_tables([statements, extra])
    statements = pa.concat_tables([statements, context])
    ws.engine.execute("CREATE OR REPLACE TEMP TABLE _expert_trends AS " + trends.judgments(ws, cfg, statements),
                      {"half_life": cfg.expert.trend_half_life_days})
    figure_table = trends.figures(reports, statements, segment_of)
    return figure_table, {"statements": statements.num_rows, "llm": llm_stats}


def analyse_firms(ws: Workspace, cfg: Config, ontology: Ontology) -> operating.ScoreModel:
    """Per-firm profiles and operating scores into the temp tables ``_expert_profiles`` and
    ``_expert_scores`` (batch functions run where the firms are: in-process, or on Spark's executors with
    the small score model shipped along); return the score model. ``read_trends`` must have run."""
    prepare_sales(ws)
    indicators = operating_inputs(ws, cfg)
    model = score_model(ws, cfg, indicators)
    # the score reads the hard-data indicator table alone; profiles add the segment's trend
    ws.engine.map_batches("_expert_scores", f"SELECT * FROM {indicators}", partial(operating.score_batch, model=model),
                          operating.SCORE_SCHEMA)
    ws.engine.map_batches("_expert_profiles", firm_rows(ws, indicators, ontology),
                          partial(profile.profile_batch, lang=cfg.expert.language), profile.PROFILE_SCHEMA)
    return model


def run(ws: Workspace, cfg: Config) -> StageResult:
    ontology = load_ontology(cfg.ontology)
    figure_table, trend_stats = read_trends(ws, cfg, ontology)
    model = analyse_firms(ws, cfg, ontology)
    with ws.stage("expert") as writer:
        writer.write_sql("trends", "SELECT * FROM _expert_trends ORDER BY segment_id, period")
        writer.write_arrow("trend_figures", figure_table)
        writer.write_sql("profiles", "SELECT * FROM _expert_profiles ORDER BY uscc")
        writer.write_sql("operating_scores", "SELECT * FROM _expert_scores ORDER BY uscc")
        writer.write_arrow("firm_claims", claims.firm_claims(ws))
        writer.stats.update({**trend_stats, "score_method": model.method, "score_weights": dict(model.weights),
                             "scales": {k: [round(s.center, 6), round(s.spread, 6)] for k, s in model.scales.items()}})
    return StageResult("expert", writer.run_id, dict(writer.counts), dict(writer.stats))
