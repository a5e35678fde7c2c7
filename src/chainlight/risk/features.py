"""Model features for the two views, as of an observation date, with plain-word names for reasons.

- ``traditional``: registry + bureau (firm age, registered capital, industry division, province,
  the registry's high-tech flag, overdue days, litigation, tax arrears, blacklist) — what a lender
  sees without the chain.
- ``chain``: the same plus what the invoices, patents, graph, verified claims and (when built) the
  expert stage show: verified 12-month turnover and its growth, active months, customers and
  churn, like-for-like growth, recent movement (order size within the same relationships, orders per
  month and customers gone quiet in the last ``RECENT_MONTHS`` against the months before), suppliers
  and purchases, top-customer and anchor shares, stable ties to large buyers, void rate, patents; hops
  to an anchor, share of sales that ends at an anchor, PageRank, cluster size, tier, mount confidence;
  the expert's operating score when ``operating_scores`` exists.

Claims never enter the model, not even supported ones: a supported claim adds nothing the invoices
and patents behind it do not already say, and counting claims would let anyone who writes reports
(repeating true statements) move a score. ``claims_supported`` is computed for display only.

No leakage from the future where the data allows it: invoice, patent and claim features only use
records dated on or before ``as_of`` (chain_features.sql). The graph's structural features (hops,
anchor flow, PageRank, cluster), the mounts, the expert score and the bureau are single snapshots in
this data model and are used as given; they describe slowly changing position, not outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa

import chainlight.expert as expert_stage  # (these register the earlier stages' tables read here: ws.table_or_empty)
import chainlight.extract  # noqa: F401
import chainlight.graph  # noqa: F401
import chainlight.mount  # noqa: F401
from chainlight.config import Config
from chainlight.engine.base import check_identifier, load_sql, render
from chainlight.expert.operating import RECENT_MONTHS, RECENT_PRIOR
from chainlight.rules import links_view, recent_movement, sales_view
from chainlight.workspace import Workspace

# Shrinkage of like-for-like growth: the slope's sum of squares at which half of it is believed (the
# noise of a log invoice amount, ~0.3², over a plausible spread of firms' growth, ~0.06²).
LFL_PRIOR = 25.0
CATEGORICAL = ["industry_division", "province", "tier"]
TRADITIONAL = ["age_years", "registered_capital", "industry_division", "province", "high_tech", "max_overdue_days",
               "open_litigations", "tax_arrears", "blacklisted", "bureau_flags"]
CHAIN_ONLY = ["verified_turnover", "sales_growth", "months_active_12m", "customers_12m", "churn_rate",
              "top_customer_share", "anchor_sales_share", "like_for_like_growth", "order_size_change",
              "order_rate_change", "recent_churn", "suppliers_12m", "purchase_ratio",
              "large_ties", "void_rate", "patents_granted", "patents_recent", "hops_to_anchor", "anchor_bound_share",
              "pagerank", "cluster_size", "tier", "mount_confidence"]
EXPERT = ["operating_score"]

# feature -> (favourable EN, favourable ZH, adverse EN, adverse ZH): what a firm owner reads.
TEXT: dict[str, tuple[str, str, str, str]] = {
    "age_years": ("The firm has operated for many years.", "企业经营年限较长。",
                  "The firm has operated for only a short time.", "企业经营年限较短。"),
    "registered_capital": ("Its registered capital is substantial.", "注册资本较为充足。",
                           "Its registered capital is small.", "注册资本较少。"),
    "industry_division": ("Firms registered in its industry default rarely.", "其登记行业的违约率较低。",
                          "Firms registered in its industry default more often.", "其登记行业的违约率较高。"),
    "province": ("Firms in its province default rarely.", "所在省份企业违约率较低。",
                 "Firms in its province default more often.", "所在省份企业违约率较高。"),
    "high_tech": ("It is a certified high-tech enterprise.", "是认定的高新技术企业。",
                  "It is not a certified high-tech enterprise.", "不是认定的高新技术企业。"),
    "max_overdue_days": ("It has no record of overdue loans.", "无贷款逾期记录。",
                         "It has paid loans late before.", "曾有贷款逾期。"),
    "open_litigations": ("No lawsuits are open against it.", "无未结诉讼。",
                         "Lawsuits are open against it.", "存在未结诉讼。"),
    "tax_arrears": ("It owes no back taxes.", "无欠税。", "It owes back taxes.", "存在欠税。"),
    "blacklisted": ("It is on no blacklist.", "未被列入黑名单。", "It is on a blacklist.", "被列入黑名单。"),
    "bureau_flags": ("Its credit-bureau record is clean.", "征信记录良好。",
                     "Its credit-bureau record shows problems.", "征信记录存在不良信息。"),
    "verified_turnover": ("Invoices verify substantial sales over the last year.", "发票核实的近一年销售额较高。",
                          "Invoices verify only small sales over the last year.", "发票核实的近一年销售额较低。"),
    "sales_growth": ("Its verified sales grew over the last year.", "经核实的销售额同比增长。",
                     "Its verified sales fell or stalled over the last year.", "经核实的销售额同比下降或停滞。"),
    "months_active_12m": ("It sold in most months of the last year.", "近一年大部分月份均有销售。",
                          "It sold in few months of the last year.", "近一年有销售的月份较少。"),
    "customers_12m": ("It sells to several paying customers.", "拥有多家付款客户。",
                      "It sells to few customers.", "客户数量较少。"),
    "churn_rate": ("It kept its customers from the year before.", "上年客户基本保留。",
                   "It lost customers it had the year before.", "流失了上年的部分客户。"),
    "top_customer_share": ("Its sales are spread over several customers.", "销售分散于多家客户。",
                           "It depends heavily on its largest customer.", "高度依赖最大客户。"),
    "anchor_sales_share": ("It sells directly to anchor firms.", "直接向核心企业供货。",
                           "Little of its sales go directly to anchor firms.", "直接销售给核心企业的份额较低。"),
    "like_for_like_growth": ("It sells more to the same customers, faster than its markets grow.",
                             "对同一客户的销售增长快于所在市场。",
                             "It sells less to the same customers than its markets would suggest.",
                             "对同一客户的销售增长慢于所在市场。"),
    "order_size_change": ("Its recent orders are larger than before from the same customers.",
                          "近期来自同一客户的订单金额高于此前。",
                          "Its recent orders are smaller than before from the same customers.",
                          "近期来自同一客户的订单金额低于此前。"),
    "order_rate_change": ("It has invoiced as often lately as before, or more.", "近期开票频率不低于此前。",
                          "It has invoiced less often lately than before.", "近期开票频率低于此前。"),
    "recent_churn": ("Its customers of the past year are still buying.", "过去一年的客户近期仍在采购。",
                     "Some customers of the past year have stopped buying lately.", "过去一年的部分客户近期已停止采购。"),
    "suppliers_12m": ("It buys from several suppliers.", "拥有多家供应商。",
                      "It buys from few suppliers.", "供应商较少。"),
    "purchase_ratio": ("Its purchases are in line with its sales.", "采购与销售相匹配。",
                       "Its purchases are out of line with its sales.", "采购与销售不匹配。"),
    "large_ties": ("It has long-standing ties to large buyers.", "与大型买方长期稳定合作。",
                   "It has no long-standing ties to large buyers.", "缺少与大型买方的长期稳定合作。"),
    "void_rate": ("It rarely cancels invoices.", "极少作废发票。", "It cancels many invoices.", "作废发票较多。"),
    "patents_granted": ("It holds granted patents.", "拥有授权专利。",
                        "It holds few or no granted patents.", "授权专利较少或没有。"),
    "patents_recent": ("It has applied for patents recently.", "近期有专利申请。",
                       "It has not applied for patents recently.", "近期无专利申请。"),
    "claims_supported": ("Invoices or patents confirm what others say about it.", "发票或专利证实了外界对其的描述。",
                         "Little of what is said about it can be confirmed.", "外界对其的描述较少能被证实。"),
    "hops_to_anchor": ("Its goods reach an anchor firm in few supply-chain steps.", "其产品经少数几级供应链即进入核心企业。",
                       "Its goods are far from any anchor firm in the supply chain.", "其产品距核心企业较远。"),
    "anchor_bound_share": ("Much of its sales ends up with anchor firms.", "大部分销售最终流向核心企业。",
                           "Little of its sales ends up with anchor firms.", "最终流向核心企业的销售较少。"),
    "pagerank": ("It carries weight in the supply network.", "在供应网络中较为重要。",
                 "It carries little weight in the supply network.", "在供应网络中的重要性较低。"),
    "cluster_size": ("It sits in an industrial cluster of its trade.", "位于同行业产业集群中。",
                     "It sits outside an industrial cluster of its trade.", "不在同行业产业集群中。"),
    "tier": ("Firms at its tier of the chain default rarely.", "其所在产业链环节的违约率较低。",
             "Firms at its tier of the chain default more often.", "其所在产业链环节的违约率较高。"),
    "mount_confidence": ("Its main business is clearly established from its sales.", "主营业务可由销售清晰确认。",
                         "Its main business is unclear from its sales.", "主营业务难以由销售确认。"),
    "operating_score": ("The operating analysis scores it well.", "经营分析评分较高。",
                        "The operating analysis scores it poorly.", "经营分析评分较低。"),
}


def reason_text(feature: str, favourable: bool) -> tuple[str, str]:
    """A sentence a firm owner can read: the factor and which way it pushed the decision."""
    texts = TEXT.get(feature)
    if texts is None:
        name = feature.replace("_", " ")
        return (f"Helped: {name}.", f"有利因素：{feature}。") if favourable else (f"Held back: {name}.", f"不利因素：{feature}。")
    return (texts[0], texts[1]) if favourable else (texts[2], texts[3])


@dataclass(frozen=True)
class Views:
    traditional: list[str]
    chain: list[str]
    categorical: list[str]


def views(ws: Workspace) -> Views:
    """The feature lists; the expert's operating score joins the chain view only when that stage ran."""
    chain = TRADITIONAL + CHAIN_ONLY + (EXPERT if ws.table_exists("operating_scores") else [])
    return Views(list(TRADITIONAL), chain, list(CATEGORICAL))


def build(ws: Workspace, cfg: Config, obs: str, verdicts: str, out: str) -> str:
    """Temp table ``out``: one row per (uscc, as_of) of table ``obs``, every feature of both views; returns ``out``.

    The rows stay in the engine (read them with an ORDER BY): the stage trains on a bounded sample of them,
    scores the rest where they live and writes the snapshot from SQL. ``prepare`` must have run (once for all
    of a run's builds)."""
    engine = ws.engine
    bureau = ws.table_or_empty("bureau")
    graph = ws.table_or_empty("graph_features")
    mounts = ws.table_or_empty("mounts")
    patents = ws.table_or_empty("patents")
    # the observation dates (a few): the point-in-time season and expert scores are per date
    dates = [d for d in engine.query(f"SELECT DISTINCT as_of FROM {obs} WHERE as_of IS NOT NULL ORDER BY 1")
             .column(0).to_pylist()]
    registry = render(load_sql("chainlight.risk", "registry_features"), {"obs": obs, "bureau": bureau})
    season = expert_stage.seasons_as_of(ws, dates, "_risk_season")
    recent = recent_movement(ws, obs, "_expert_sales_all", season, RECENT_MONTHS, RECENT_PRIOR, "_risk_recent")
    chain = _chain_features(ws, obs, dates, {"links": links_view(ws), "verdicts": verdicts, "graph": graph,
                                             "patents": patents, "mounts": mounts, "recent": recent},
                            {"large_sales": cfg.graph.large_firm_sales, "lfl_prior": LFL_PRIOR})
    expert, expert_join = "", ""
    if ws.table_exists("operating_scores"):  # as of each observation date; the stage's own scores at the data end
        end = ws.engine.scalar("SELECT max(issue_date) FROM invoices")
        days = sorted({d for d in dates if end is None or d < end})
        expert_stage.scores_as_of(ws, cfg, days, "_risk_scores_pit")
        end_date = f"DATE '{end.isoformat()}'" if end is not None else "CAST(NULL AS DATE)"
        expert = (f", round(coalesce(xp.score, CASE WHEN rc.as_of >= {end_date} "
                  "THEN x.score END), 4) AS operating_score")
        expert_join = ("LEFT JOIN operating_scores x ON x.uscc = rc.uscc "
                       "LEFT JOIN _risk_scores_pit xp ON xp.uscc = rc.uscc AND xp.as_of = rc.as_of")
    # registry columns, then the chain's (USING keeps one uscc and as_of: no engine-specific EXCLUDE)
    sql = f"""
        SELECT rc.*,
               CAST(g.hops_to_anchor AS DOUBLE) AS hops_to_anchor,  -- NULL for firms off the graph: stored as DOUBLE
               round(g.anchor_flow_share, 6) AS anchor_bound_share, round(g.pagerank, 12) AS pagerank,
               coalesce(g.cluster_size, 0) AS cluster_size, coalesce(g.tier, 'unknown') AS tier,
               round(m.confidence, 6) AS mount_confidence{expert}
        FROM (SELECT * FROM ({registry}) r JOIN {chain} c USING (uscc, as_of)) rc
        LEFT JOIN {graph} g ON g.uscc = rc.uscc
        LEFT JOIN (SELECT uscc, confidence FROM {mounts} WHERE rank = 1) m ON m.uscc = rc.uscc
        {expert_join}"""
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {check_identifier(out)} AS {sql}")
    return out


CHAIN_FEATURES = "_risk_chain_features"
INVOICE_LINES = "_risk_invoice_lines"


def prepare(ws: Workspace) -> None:
    """What every ``build`` of a run reads and no observation changes, made once per run: the expert's seller
    lines (``expert.prepare_sales``) and each invoice with its resolved buyer and sales flag (``invoice_lines.sql``)."""
    expert_stage.prepare_sales(ws)
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {INVOICE_LINES} AS " + render(
        load_sql("chainlight.risk", "invoice_lines"), {"links": links_view(ws), "sales": sales_view(ws)}))


def _chain_features(ws: Workspace, obs: str, dates: list[date], tables: dict[str, str], params: dict[str, Any]) -> str:
    """Temp table of the history features (chain_features.sql), one observation date at a time: each date joins
    its firms with every invoice issued up to it, so all dates at once hold dates × invoices rows (a 1M-firm
    workspace with 8 dates filled a 43 GB disk with DuckDB's spill); one date at a time holds an eighth. Each
    date's features depend only on that date's rows, so the rows are the same. Returns the table's name."""
    tables = {**tables, "lines": INVOICE_LINES}

    def features(day_filter: str) -> str:
        ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {CHAIN_FEATURES}_obs AS "
                          f"SELECT uscc, as_of FROM {check_identifier(obs)} WHERE {day_filter}")
        return render(load_sql("chainlight.risk", "chain_features"), {**tables, "obs": f"{CHAIN_FEATURES}_obs"})

    parts = []
    for number, day in enumerate(dates):
        part = f"{CHAIN_FEATURES}_{number}"
        ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {part} AS " + features(f"as_of = DATE '{day.isoformat()}'"),
                          params)
        parts.append(f"SELECT * FROM {part}")
    if parts:
        ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {CHAIN_FEATURES} AS " + " UNION ALL ".join(parts))
    else:
        ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {CHAIN_FEATURES} AS " + features("1 = 0"), params)
    return CHAIN_FEATURES


def frame_of_rows(rows: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    """Feature rows read from the engine as the scorecards take them (categories as text)."""
    frame = rows.to_pandas()
    for column in CATEGORICAL:
        if column in frame:
            frame[column] = frame[column].astype(str)
    return frame


def row_values(frame: pd.DataFrame, features: list[str]) -> list[dict[str, Any]]:
    """Plain JSON-able dicts of the named features (NaN -> None), one per row."""
    records = frame[features].astype(object).where(frame[features].notna(), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]
