"""Model features for the two views, as of an observation date, with plain-word names for reasons.

- ``traditional``: registry + bureau (firm age, registered capital, industry division, province,
  the registry's high-tech flag, overdue days, litigation, tax arrears, blacklist) — what a lender
  sees without the chain.
- ``chain``: the same plus what the invoices, patents, graph, verified claims and (when built) the
  expert stage show: verified 12-month turnover and its growth, active months, customers and
  churn, top-customer and anchor shares, stable ties to large buyers, void rate, patents, supported
  claims; hops to an anchor, share of sales that ends at an anchor, PageRank, cluster size, tier,
  mount confidence; the expert's operating score when ``operating_scores`` exists.

No leakage from the future where the data allows it: invoice, patent and claim features only use
records dated on or before ``as_of`` (chain_features.sql). The graph's structural features (hops,
anchor flow, PageRank, cluster), the mounts, the expert score and the bureau are single snapshots in
this data model and are used as given; they describe slowly changing position, not outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from chainlight.config import Config
from chainlight.engine.base import load_sql, render
from chainlight.workspace import Workspace

# Shrinkage of like-for-like growth: the slope's sum of squares at which half of it is believed (the
# noise of a log invoice amount, ~0.3², over a plausible spread of firms' growth, ~0.06²).
LFL_PRIOR = 25.0
CATEGORICAL = ["industry_division", "province", "tier"]
TRADITIONAL = ["age_years", "registered_capital", "industry_division", "province", "high_tech", "max_overdue_days",
               "open_litigations", "tax_arrears", "blacklisted", "bureau_flags"]
CHAIN_ONLY = ["verified_turnover", "sales_growth", "months_active_12m", "customers_12m", "churn_rate",
              "top_customer_share", "anchor_sales_share", "like_for_like_growth", "suppliers_12m", "purchase_ratio", "large_ties", "void_rate", "patents_granted",
              "patents_recent", "claims_supported", "hops_to_anchor", "anchor_bound_share", "pagerank",
              "cluster_size", "tier", "mount_confidence"]
EXPERT = ["operating_score"]

# feature -> (English, Chinese) phrase naming the factor; direction words are added by ``reason_text``.
TEXT: dict[str, tuple[str, str]] = {
    "age_years": ("how long the firm has operated", "企业经营年限"),
    "registered_capital": ("registered capital", "注册资本"),
    "industry_division": ("the registered industry", "登记行业"),
    "province": ("the province", "所在省份"),
    "high_tech": ("high-tech certification", "高新技术企业认定"),
    "max_overdue_days": ("past overdue payments", "历史逾期记录"),
    "open_litigations": ("open lawsuits", "未结诉讼"),
    "tax_arrears": ("tax arrears", "欠税记录"),
    "blacklisted": ("blacklist status", "黑名单状态"),
    "bureau_flags": ("adverse credit-bureau records", "征信不良记录"),
    "verified_turnover": ("sales verified by invoices over the last year", "近一年经发票核实的销售额"),
    "sales_growth": ("growth of verified sales", "经核实销售额的增长"),
    "months_active_12m": ("months with sales in the last year", "近一年有销售的月份数"),
    "customers_12m": ("number of paying customers", "付款客户数量"),
    "churn_rate": ("customers kept from the year before", "上年客户的留存"),
    "top_customer_share": ("dependence on the largest customer", "对最大客户的依赖程度"),
    "anchor_sales_share": ("sales made directly to anchor firms", "直接销售给核心企业的份额"),
    "large_ties": ("long-standing ties to large buyers", "与大型买方的长期稳定合作"),
    "like_for_like_growth": ("growth of sales to the same customers, against its markets", "对同一客户的销售增长（相对所在市场）"),
    "suppliers_12m": ("number of its own suppliers", "自身供应商数量"),
    "purchase_ratio": ("purchases against its sales", "采购额与销售额之比"),
    "void_rate": ("share of cancelled invoices", "作废发票比例"),
    "patents_granted": ("granted patents", "授权专利"),
    "patents_recent": ("recent patent applications", "近期专利申请"),
    "claims_supported": ("claims about the firm confirmed by invoices or patents", "经发票或专利核实的企业信息"),
    "hops_to_anchor": ("its position in the supply chain (steps to an anchor firm)", "在供应链中的位置（距核心企业的层级）"),
    "anchor_bound_share": ("share of its sales that ends up with anchor firms", "最终流向核心企业的销售份额"),
    "pagerank": ("its weight in the supply network", "在供应网络中的重要性"),
    "cluster_size": ("its industrial cluster", "所在产业集群"),
    "tier": ("its tier in the chain", "在产业链中的环节"),
    "mount_confidence": ("how clearly its main business is known", "主营业务识别的清晰度"),
    "operating_score": ("the expert's operating score", "经营分析评分"),
}


def reason_text(feature: str, favourable: bool) -> tuple[str, str]:
    """A sentence a firm owner can read: the factor and which way it pushed the decision."""
    en, zh = TEXT.get(feature, (feature.replace("_", " "), feature))
    if favourable:
        return f"Helped: {en}.", f"有利因素：{zh}。"
    return f"Held back: {en}.", f"不利因素：{zh}。"


@dataclass(frozen=True)
class Views:
    traditional: list[str]
    chain: list[str]
    categorical: list[str]


def views(ws: Workspace) -> Views:
    """The feature lists; the expert's operating score joins the chain view only when that stage ran."""
    chain = TRADITIONAL + CHAIN_ONLY + (EXPERT if ws.table_exists("operating_scores") else [])
    return Views(list(TRADITIONAL), chain, list(CATEGORICAL))


PATENT_COLUMNS = "patent_id VARCHAR, holder_name VARCHAR, apply_date DATE, grant_date DATE"


def links_view(ws: Workspace) -> str:
    """Resolved mentions; without the resolve stage, written buyer USCCs found in the registry."""
    if ws.table_exists("entity_links"):
        return "entity_links"
    ws.engine.execute(
        "CREATE OR REPLACE TEMP VIEW _risk_links AS SELECT 'invoice:' || invoice_id AS mention_id, buyer_uscc AS uscc "
        "FROM invoices WHERE buyer_uscc IN (SELECT uscc FROM enterprises)")
    return "_risk_links"


def optional_table(ws: Workspace, table: str, columns: str) -> str:
    """The table, or an empty stand-in with the columns the feature SQL reads."""
    if ws.table_exists(table):
        return table
    name = f"_risk_empty_{table}"
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")
    return name


def build(ws: Workspace, cfg: Config, obs: pa.Table, verdicts: str) -> pd.DataFrame:
    """One row per (uscc, as_of) of ``obs``, every feature of both views, in (uscc, as_of) order."""
    engine = ws.engine
    engine.register_arrow("_risk_obs", obs.select(["uscc", "as_of"]))
    bureau = optional_table(ws, "bureau", "uscc VARCHAR, max_overdue_days INTEGER, open_litigations INTEGER, "
                                     "tax_arrears BOOLEAN, blacklisted BOOLEAN")
    graph = optional_table(ws, "graph_features", "uscc VARCHAR, is_anchor BOOLEAN, sales_total DOUBLE, hops_to_anchor BIGINT, "
                                            "anchor_flow_share DOUBLE, pagerank DOUBLE, cluster_size BIGINT, tier VARCHAR")
    mounts = optional_table(ws, "mounts", "uscc VARCHAR, confidence DOUBLE, rank BIGINT")
    patents = optional_table(ws, "patents", PATENT_COLUMNS)
    registry = render(load_sql("chainlight.risk", "registry_features"), {"obs": "_risk_obs", "bureau": bureau})
    chain = render(load_sql("chainlight.risk", "chain_features"),
                   {"obs": "_risk_obs", "links": links_view(ws), "verdicts": verdicts, "graph": graph,
                    "patents": patents, "mounts": mounts})
    expert = ", x.score AS operating_score" if ws.table_exists("operating_scores") else ""
    expert_join = "LEFT JOIN operating_scores x ON x.uscc = r.uscc" if expert else ""
    sql = f"""
        SELECT r.*, c.* EXCLUDE (uscc, as_of),
               g.hops_to_anchor, round(g.anchor_flow_share, 6) AS anchor_bound_share, g.pagerank,
               coalesce(g.cluster_size, 0) AS cluster_size, coalesce(g.tier, 'unknown') AS tier,
               round(m.confidence, 6) AS mount_confidence{expert}
        FROM ({registry}) r JOIN ({chain}) c USING (uscc, as_of)
        LEFT JOIN {graph} g ON g.uscc = r.uscc
        LEFT JOIN (SELECT uscc, confidence FROM {mounts} WHERE rank = 1) m ON m.uscc = r.uscc
        {expert_join}
        ORDER BY r.uscc, r.as_of"""
    frame = engine.query(sql, {"stable_months": cfg.graph.stable_min_months,
                               "large_sales": cfg.graph.large_firm_sales,
                               "lfl_prior": LFL_PRIOR}).to_pandas()
    for column in CATEGORICAL:
        frame[column] = frame[column].astype(str)
    return frame


def row_values(frame: pd.DataFrame, features: list[str]) -> list[dict[str, Any]]:
    """Plain JSON-able dicts of the named features (NaN -> None), one per row."""
    records = frame[features].astype(object).where(frame[features].notna(), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]
