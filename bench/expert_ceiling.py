"""How much of a firm's health do the observable data say? A supervised ceiling for the expert's
operating score and the risk engine's chain view.

    python bench/expert_ceiling.py WORKSPACE [WORKSPACE ...] [--credit]

Each WORKSPACE is a finished ``chainlight demo`` (its ``inputs/truth`` beside it). From the data
contract only — invoices (monthly sales, counts, customers, churn, voids, reversals, the per-month
series of the last 24 months), purchases, the graph's features, the bureau and the registry — a rich
feature set is built per firm as of a date, and a LightGBM model is fitted on the generator's TRUE
health with 5-fold cross-validation. Its out-of-fold Spearman is what a model could reach if it knew
how to read the data perfectly (up to what 20k firms teach a booster): the ceiling, printed next to the
stage's own ``expert.score_spearman``. With ``--credit``, the same is done for the risk engine: rows as
of every observation date (the rich set plus the risk engine's own point-in-time features), CV folds by
firm, out-of-fold AUC on the risk stage's test rows of a model fitted on ``defaulted_12m`` and of one
fitted on the row's true PD (logit; the oracle itself, so what the features can say of it), beside the
row oracle's AUC and the stage's own two views on the same rows, and the share of the traditional-to-
oracle gap each closes.

Never point this at the seeds the README's figures come from (42, 7, 11): it reads the truth, and a
study run on them would be a tuning loop. The default study uses seeds 1 and 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

WINDOW = 24  # months of per-month series
BUREAU = ["max_overdue_days", "open_litigations", "tax_arrears", "blacklisted"]
REGISTRY = ["age_years", "log_capital", "high_tech"]
GRAPH = ["sales_total", "customer_count", "supplier_count", "customer_hhi", "top_customer_share", "hops_to_anchor",
         "anchor_flow_share", "pagerank", "cluster_size", "stable_large_ties", "is_anchor"]
SNAPSHOT_TOTALS = ["sales_total", "customer_count", "supplier_count", "customer_hhi", "top_customer_share",
                   "stable_large_ties", "log_suppliers_per_size"]


def _series_sql() -> str:
    cols = []
    for k in range(WINDOW):
        cols.append(f"sum(net) FILTER (WHERE k = {k}) AS s{k}")
        cols.append(f"count(*) FILTER (WHERE k = {k} AND status = 'normal') AS n{k}")
    return ",\n".join(cols)


FEATURES_SQL = """
WITH obs AS (SELECT DISTINCT uscc, as_of FROM _ceil_obs),
lines AS (
    SELECT o.uscc, o.as_of, coalesce(l.uscc, nullif(i.buyer_uscc, ''), 'name:' || i.buyer_name) AS customer,
           i.amount, i.status, i.issue_date,
           date_diff('month', date_trunc('month', i.issue_date), date_trunc('month', o.as_of)) AS k,
           CASE WHEN i.status = 'voided' THEN 0 ELSE i.amount END AS net
    FROM obs o JOIN invoices i ON i.seller_uscc = o.uscc AND i.issue_date <= o.as_of
    LEFT JOIN entity_links l ON l.mention_id = 'invoice:' || i.invoice_id
    WHERE i.seller_uscc IS DISTINCT FROM coalesce(l.uscc, nullif(i.buyer_uscc, ''))
), series AS (
    SELECT uscc, as_of, {series},
           count(*) FILTER (WHERE status = 'voided' AND k < 12) AS voids_12m,
           count(*) FILTER (WHERE status = 'red' AND k < 12) AS reds_12m,
           count(*) FILTER (WHERE status = 'voided' AND k < 6) AS voids_6m,
           count(*) FILTER (WHERE status = 'red' AND k < 6) AS reds_6m,
           count(*) FILTER (WHERE status = 'voided') AS voids_all, count(*) FILTER (WHERE status = 'red') AS reds_all,
           count(*) FILTER (WHERE status = 'normal') AS normal_all,
           min(issue_date) AS first_invoice
    FROM lines GROUP BY ALL
), edges AS (
    SELECT uscc, as_of, customer, min(k) AS last_k, max(k) AS first_k, count(*) AS n,
           count(*) FILTER (WHERE k < 6) AS n6, count(*) FILTER (WHERE k >= 6 AND k < 18) AS n6_18,
           sum(net) FILTER (WHERE k < 12) AS amt12, sum(net) FILTER (WHERE k >= 12 AND k < 24) AS amt24
    FROM lines WHERE status = 'normal' GROUP BY ALL
), cust AS (
    SELECT uscc, as_of, count(*) AS customers_all,
           count(*) FILTER (WHERE last_k < 3) AS customers_3m, count(*) FILTER (WHERE last_k < 6) AS customers_6m,
           count(*) FILTER (WHERE last_k < 12) AS customers_12m,
           count(*) FILTER (WHERE amt24 > 0) AS customers_prev12,
           count(*) FILTER (WHERE amt24 > 0 AND coalesce(amt12, 0) <= 0) AS customers_lost12,
           count(*) FILTER (WHERE first_k < 12) AS customers_new12,
           count(*) FILTER (WHERE n6_18 > 0 AND n6 = 0) AS customers_quiet6,
           count(*) FILTER (WHERE n6_18 > 0) AS customers_before6,
           max(amt12) / nullif(sum(amt12), 0) AS top_share12,
           avg(last_k) FILTER (WHERE first_k >= 12) AS mean_last_k_old
    FROM edges GROUP BY ALL
), fe AS (  -- log amount around its relationship's mean: level lately, and the within-relationship slope
    SELECT uscc, as_of, y - avg(y) OVER w AS r, k, -k / 12.0 - avg(-k / 12.0) OVER w AS tc, y - avg(y) OVER w AS yc
    FROM (SELECT uscc, as_of, customer, k, ln(amount) - ln(CASE month(issue_date) WHEN 2 THEN 0.65 WHEN 12 THEN 1.3
                 WHEN 11 THEN 1.1 ELSE 1.0 END) AS y
          FROM lines WHERE status = 'normal' AND amount > 0)
    WINDOW w AS (PARTITION BY uscc, as_of, customer)
), level AS (
    SELECT uscc, as_of, avg(r) FILTER (WHERE k < 3) AS lvl3, avg(r) FILTER (WHERE k < 6) AS lvl6,
           avg(r) FILTER (WHERE k < 12) AS lvl12, count(*) FILTER (WHERE k < 6) AS lvl_n6,
           sum(tc * yc) / nullif(sum(tc * tc), 0) AS fe_slope, sum(tc * tc) AS fe_sxx,
           stddev_pop(r) AS fe_resid_sd
    FROM fe GROUP BY ALL
), buys AS (
    SELECT o.uscc, o.as_of, count(DISTINCT i.seller_uscc) FILTER (WHERE i.issue_date > o.as_of - INTERVAL 12 MONTH)
               AS suppliers_12m,
           count(DISTINCT i.seller_uscc) AS suppliers_all,
           sum(i.amount) FILTER (WHERE i.issue_date > o.as_of - INTERVAL 12 MONTH AND i.status <> 'voided') AS purchases_12m,
           count(*) FILTER (WHERE i.issue_date > o.as_of - INTERVAL 12 MONTH) AS purchase_invoices_12m
    FROM obs o JOIN entity_links l ON l.uscc = o.uscc AND l.mention_id LIKE 'invoice:%'
    JOIN invoices i ON 'invoice:' || i.invoice_id = l.mention_id AND i.issue_date <= o.as_of AND i.seller_uscc <> o.uscc
    GROUP BY ALL
)
SELECT o.uscc, o.as_of, s.* EXCLUDE (uscc, as_of, first_invoice),
       date_diff('month', s.first_invoice, o.as_of) AS months_since_first_invoice,
       c.* EXCLUDE (uscc, as_of), v.* EXCLUDE (uscc, as_of), b.* EXCLUDE (uscc, as_of),
       {graph}, {bureau},
       date_diff('day', e.founded, o.as_of) / 365.25 AS age_years, ln(1 + coalesce(e.registered_capital, 0)) AS log_capital,
       CAST(e.high_tech AS INTEGER) AS high_tech
FROM obs o JOIN enterprises e USING (uscc)
LEFT JOIN series s USING (uscc, as_of) LEFT JOIN cust c USING (uscc, as_of) LEFT JOIN level v USING (uscc, as_of)
LEFT JOIN buys b USING (uscc, as_of)
LEFT JOIN graph_features g ON g.uscc = o.uscc LEFT JOIN bureau u ON u.uscc = o.uscc
ORDER BY o.uscc, o.as_of
"""


def features(ws: Any, obs: pd.DataFrame) -> pd.DataFrame:
    """One row per (uscc, as_of) of ``obs``: the rich observable feature set, plus derived ratios."""
    import pyarrow as pa

    ws.engine.register_arrow("_ceil_obs", pa.Table.from_pandas(obs[["uscc", "as_of"]], preserve_index=False))
    sql = FEATURES_SQL.format(series=_series_sql(), graph=", ".join(f"g.{c}" for c in GRAPH),
                              bureau=", ".join(f"u.{c}" for c in BUREAU))
    frame = ws.engine.query(sql).to_pandas()
    s = frame[[f"s{k}" for k in range(WINDOW)]].fillna(0).astype(float)
    n = frame[[f"n{k}" for k in range(WINDOW)]].fillna(0).astype(float)
    for a, b in ((3, 12), (6, 12), (6, 18), (12, 24)):
        frame[f"log_sales_{a}_{b}"] = np.log1p(s.iloc[:, :a].clip(lower=0).sum(axis=1) / a) - \
            np.log1p(s.iloc[:, a:b].clip(lower=0).sum(axis=1) / (b - a))
        frame[f"log_count_{a}_{b}"] = np.log((n.iloc[:, :a].sum(axis=1) / a + 0.25) / (n.iloc[:, a:b].sum(axis=1) / (b - a) + 0.25))
    frame["log_sales_12m"] = np.log1p(s.iloc[:, :12].clip(lower=0).sum(axis=1))
    frame["months_active_12m"] = (s.iloc[:, :12] > 0).sum(axis=1)
    frame["log_suppliers_per_size"] = np.log1p(frame["suppliers_all"].fillna(0)) - \
        0.75 * np.log1p(frame["sales_total"].fillna(0).clip(lower=0)) / np.log(10)
    frame["void_rate_12m"] = frame["voids_12m"] / (frame["voids_12m"] + n.iloc[:, :12].sum(axis=1) + 1)
    frame["red_rate_12m"] = frame["reds_12m"] / (n.iloc[:, :12].sum(axis=1) + 1)
    for c in ("s", ):
        for k in range(WINDOW):
            frame[f"{c}{k}"] = np.log1p(frame[f"{c}{k}"].fillna(0).clip(lower=0))
    return frame


def cv_predict(x: pd.DataFrame, y: np.ndarray, groups: np.ndarray, seed: int = 0, binary: bool = False) -> tuple[
        np.ndarray, pd.Series]:
    """Out-of-fold predictions of a LightGBM model (5 folds by firm) and the mean gain importance."""
    import lightgbm as lgb
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(y))
    gains = pd.Series(0.0, index=x.columns)
    params = dict(n_estimators=400, learning_rate=0.03, num_leaves=31, min_child_samples=50, subsample=0.8,
                  subsample_freq=1, colsample_bytree=0.7, reg_lambda=1.0, random_state=seed, n_jobs=1, verbose=-1)
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        model = (lgb.LGBMClassifier if binary else lgb.LGBMRegressor)(**params)
        model.fit(x.iloc[train], y[train])
        oof[test] = model.predict_proba(x.iloc[test])[:, 1] if binary else model.predict(x.iloc[test])
        gains += pd.Series(model.booster_.feature_importance("gain"), index=x.columns)
    return oof, gains / gains.sum()


def expert_ceiling(ws: Any, cfg: Any, truth: Path) -> dict[str, Any]:
    from scipy.stats import spearmanr

    import chainlight.expert as expert

    end = ws.engine.scalar("SELECT max(issue_date) FROM invoices")
    firms = ws.engine.query("SELECT uscc FROM enterprises ORDER BY uscc").to_pandas()
    firms["as_of"] = end
    frame = features(ws, firms)
    expert.prepare_sales(ws)
    indicators = ws.engine.query(f"SELECT * FROM {expert.operating_inputs(ws, cfg)} ORDER BY uscc").to_pandas()
    numeric = indicators.select_dtypes("number").add_prefix("stage_")
    numeric["uscc"] = indicators["uscc"]
    frame = frame.merge(numeric, on="uscc", how="left")
    scores = ws.engine.query("SELECT uscc, score FROM operating_scores").to_pandas()
    frame = frame.merge(scores, on="uscc", how="left")
    t = pd.read_parquet(truth / "firms.parquet", columns=["uscc", "health", "health_now"])
    frame = frame.merge(t, on="uscc", how="left")
    y = frame["health_now"].to_numpy(float)
    groups = np.arange(len(frame))
    out: dict[str, Any] = {"firms": len(frame),
                           "stage_score_spearman": round(float(spearmanr(frame["score"], y).statistic), 4)}
    drop = {"uscc", "as_of", "health", "health_now", "score"}
    every = [c for c in frame.columns if c not in drop]
    hard = [c for c in every if c not in BUREAU + REGISTRY]  # invoices + graph: what the operating score may read
    stage = [c for c in every if c.startswith("stage_")]
    for name, cols in (("all", every), ("invoices_graph", hard), ("stage_indicators", stage)):
        pred, gain = cv_predict(frame[cols].astype(float), y, groups)
        out[f"ceiling_{name}"] = round(float(spearmanr(pred, y).statistic), 4)
        if name == "invoices_graph":
            out["top_features"] = {k: round(float(v), 4) for k, v in gain.sort_values(ascending=False).head(20).items()}
            out["ceiling_invoices_graph_vs_lasting"] = round(float(spearmanr(pred, frame["health"]).statistic), 4)
    out["truth_lasting_vs_now"] = round(float(spearmanr(frame["health"], y).statistic), 4)
    return out


def credit_ceiling(ws: Any, cfg: Any, truth: Path) -> dict[str, Any]:
    """Rows as of every observation date: the rich set plus the risk engine's own point-in-time features;
    out-of-fold predictions (folds by firm) scored on the stage's test rows against the stage's two views."""
    from scipy.special import logit
    from sklearn.metrics import roc_auc_score

    from chainlight.risk import claims
    from chainlight.risk import features as risk_features

    rows = ws.engine.query("SELECT uscc, observed_at AS as_of, defaulted_12m FROM outcomes ORDER BY uscc, observed_at")
    stage = risk_features.build(ws, cfg, rows.select(["uscc", "as_of"]), claims.build(ws))
    stage = stage.drop(columns=[c for c in risk_features.CATEGORICAL if c in stage.columns]).add_prefix("risk_")
    stage = stage.rename(columns={"risk_uscc": "uscc", "risk_as_of": "as_of"})
    frame = features(ws, rows.to_pandas()).merge(rows.to_pandas(), on=["uscc", "as_of"], how="left")
    for table in (frame, stage):
        table["as_of"] = pd.to_datetime(table["as_of"]).dt.date
    frame = frame.merge(stage, on=["uscc", "as_of"], how="left")
    t = pd.read_parquet(truth / "outcomes.parquet", columns=["uscc", "observed_at", "health", "pd_12m"]).rename(
        columns={"observed_at": "as_of"})
    t["as_of"] = pd.to_datetime(t["as_of"]).dt.date
    frame = frame.merge(t, on=["uscc", "as_of"], how="left")
    back = ws.engine.query("SELECT uscc, observed_at AS as_of, pd AS stage_pd, pd_traditional AS stage_pd_traditional "
                           "FROM risk_backtest").to_pandas()
    back["as_of"] = pd.to_datetime(back["as_of"]).dt.date
    frame = frame.merge(back, on=["uscc", "as_of"], how="left")
    frame["date_index"] = frame["as_of"].map(lambda d: d.toordinal())
    y = frame["defaulted_12m"].astype(int).to_numpy()
    groups = frame["uscc"].factorize()[0]
    test = frame["stage_pd"].notna().to_numpy()
    # the graph's whole-history totals would read invoices after the row's date: left out here
    drop = {"uscc", "as_of", "defaulted_12m", "health", "pd_12m", "stage_pd", "stage_pd_traditional", *SNAPSHOT_TOTALS}
    every = [c for c in frame.columns if c not in drop]
    trad = BUREAU + REGISTRY + ["date_index"]
    out: dict[str, Any] = {"rows": len(frame), "test_rows": int(test.sum()),
                           "oracle_auc": round(float(roc_auc_score(y[test], frame["pd_12m"][test])), 4),
                           "stage_auc": round(float(roc_auc_score(y[test], frame["stage_pd"][test])), 4),
                           "stage_auc_traditional": round(float(roc_auc_score(
                               y[test], frame["stage_pd_traditional"][test])), 4)}
    true_logit = logit(frame["pd_12m"].clip(1e-6, 1 - 1e-6).to_numpy(float))
    for name, cols in (("traditional", trad), ("all", every)):
        pred, _ = cv_predict(frame[cols].astype(float), y, groups, binary=True)
        out[f"auc_{name}_on_default"] = round(float(roc_auc_score(y[test], pred[test])), 4)
        pred, gain = cv_predict(frame[cols].astype(float), true_logit, groups)
        out[f"auc_{name}_on_true_pd"] = round(float(roc_auc_score(y[test], pred[test])), 4)
    out["top_features_true_pd"] = {k: round(float(v), 4) for k, v in gain.sort_values(ascending=False).head(15).items()}
    base, gap = out["stage_auc_traditional"], out["oracle_auc"] - out["stage_auc_traditional"]
    for name in ("stage_auc", "auc_all_on_default", "auc_all_on_true_pd"):
        if gap > 0:
            out[f"gap_closed_{name}"] = round((out[name] - base) / gap, 4)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspaces", nargs="+", type=Path)
    parser.add_argument("--credit", action="store_true", help="also the credit ceiling (rows per observation date)")
    args = parser.parse_args()
    from chainlight.config import Config
    from chainlight.workspace import Workspace

    cfg = Config()
    for path in args.workspaces:
        truth = path / "inputs" / "truth"
        with Workspace(path, cfg) as ws:
            result: dict[str, Any] = {"workspace": str(path), "expert": expert_ceiling(ws, cfg, truth)}
            if args.credit:
                result["credit"] = credit_ceiling(ws, cfg, truth)
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
