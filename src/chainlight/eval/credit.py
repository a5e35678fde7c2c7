"""Credit quality on the time split's test rows (later observations), against ground truth.

``auc``/``ks`` are the chain view's, ``*_traditional`` the registry + bureau view's (same method,
same rows), ``auc_oracle`` the generator's true PD of each test row (``truth/outcomes.parquet``: the PD
at that observation date, from the health of that date) — the ceiling; economies written before the
health path existed have only the firm's mean PD over the dates (``truth/firms.parquet`` ``pd_12m``),
which is then used, and is reported as ``auc_oracle_firm_mean`` beside the row oracle when both exist.
``approval_rate*``: the largest share of test rows a lender approves, taking them
in order of PD, while the bad rate among the approved stays at or below ``bad_rate_target`` (half the
test rows' bad rate): more approvals at the same risk is the business value of a better view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from chainlight.workspace import Workspace

TARGET_SHARE_OF_BASE = 0.5


def ks(label: np.ndarray, score: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(label, score)
    return float(np.max(tpr - fpr))


def approval_rate(label: np.ndarray, pd: np.ndarray, target: float) -> float:
    """Largest approved share (lowest PDs first, ties kept together) with bad rate ≤ target."""
    order = np.argsort(pd, kind="stable")
    sorted_pd, bads = pd[order], np.cumsum(label[order])
    counts = np.arange(1, len(pd) + 1)
    boundary = np.append(sorted_pd[1:] != sorted_pd[:-1], True)  # approve whole groups of equal PD
    ok = boundary & (bads <= target * counts)
    return float(counts[ok].max() / len(pd)) if ok.any() else 0.0


def evaluate(ws: Workspace, truth: Path | None) -> dict[str, Any] | None:
    if not ws.table_exists("risk_backtest"):
        return None
    firms = truth / "firms.parquet" if truth else None
    rows_truth = truth / "outcomes.parquet" if truth else None
    oracle = firms is not None and firms.exists()
    by_row = oracle and rows_truth is not None and rows_truth.exists()
    sql = ("SELECT b.defaulted_12m, b.pd, b.pd_traditional" + (", r.pd_12m" if by_row else "")
           + (f", t.pd_12m AS pd_firm_mean FROM risk_backtest b JOIN read_parquet('{firms.as_posix()}') t USING (uscc)"
              if oracle and firms else " FROM risk_backtest b")
           + (f" JOIN (SELECT uscc, observed_at, pd_12m FROM read_parquet('{rows_truth.as_posix()}')) r"
              " USING (uscc, observed_at)" if by_row and rows_truth else "")
           + " ORDER BY b.uscc, b.observed_at")
    rows = ws.engine.query(sql).to_pydict()
    label = np.asarray(rows["defaulted_12m"], dtype=int)
    if len(label) == 0 or label.min() == label.max():
        return None
    chain, traditional = np.asarray(rows["pd"], float), np.asarray(rows["pd_traditional"], float)
    target = round(TARGET_SHARE_OF_BASE * float(label.mean()), 4)
    out: dict[str, Any] = {
        "auc": round(float(roc_auc_score(label, chain)), 4), "ks": round(ks(label, chain), 4),
        "auc_traditional": round(float(roc_auc_score(label, traditional)), 4),
        "ks_traditional": round(ks(label, traditional), 4)}
    if oracle:
        firm_mean = np.asarray(rows["pd_firm_mean"], float)
        true_pd = np.asarray(rows["pd_12m"], float) if by_row else firm_mean
        out["auc_oracle"] = round(float(roc_auc_score(label, true_pd)), 4)
        if by_row:
            out["auc_oracle_firm_mean"] = round(float(roc_auc_score(label, firm_mean)), 4)
        out["approval_rate_oracle"] = round(approval_rate(label, true_pd, target), 4)
    out.update({"approval_rate": round(approval_rate(label, chain, target), 4),
                "approval_rate_traditional": round(approval_rate(label, traditional, target), 4),
                "bad_rate_target": target, "test_rows": int(len(label)), "test_bad_rate": round(float(label.mean()), 4)})
    if "auc_oracle" in out and out["auc_oracle"] > out["auc_traditional"]:
        out["gap_closed"] = round((out["auc"] - out["auc_traditional"]) / (out["auc_oracle"] - out["auc_traditional"]), 4)
    return out
