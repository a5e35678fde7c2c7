"""How much the synthetic credit outcomes let a model see: the figures ``synth.credit.blind`` documents.

    python bench/synth_credit.py DIR [DIR ...]     # folders written by `chainlight synth`

Per folder: the default rate; the rate of firms with ≥ 2 stable large ties relative to it; the AUC of the
true PD (firm mean over the dates) and of the same PD without the blind profile's tie term; the AUC of
the true PD of each row (the health of that date: the oracle, when ``truth/outcomes.parquet`` exists); and the AUC
of a logistic regression (5-fold, grouped by firm) on registry + bureau columns, with and without the
true tie count — the ceiling a chain view's tie information can add.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict

from chainlight.synth.credit import BLIND_TIE, BLIND_TIE_CAP

REGISTRY_BUREAU = ["capital", "age", "high_tech", "overdue", "litigations", "arrears", "blacklisted"]
TIE_TERM, TIE_CAP = BLIND_TIE, BLIND_TIE_CAP


def load(folder: Path) -> dict[str, np.ndarray]:
    data: dict[str, np.ndarray] = duckdb.sql(f"""
        SELECT o.defaulted_12m::INT AS y, o.uscc, ln(1 + e.registered_capital) AS capital,
               date_diff('day', e.founded, DATE '2025-01-01') / 365.0 AS age, e.high_tech::INT AS high_tech,
               ln(1 + b.max_overdue_days) AS overdue, b.open_litigations AS litigations, b.tax_arrears::INT AS arrears,
               b.blacklisted::INT AS blacklisted, least(f.stable_large_ties, {TIE_CAP}) AS ties, f.pd_12m
        FROM '{folder}/outcomes.parquet' o JOIN '{folder}/enterprises.parquet' e USING (uscc)
        JOIN '{folder}/bureau.parquet' b USING (uscc) JOIN '{folder}/truth/firms.parquet' f USING (uscc)
        ORDER BY o.uscc, o.observed_at""").fetchnumpy()
    return data


def model_auc(data: dict[str, np.ndarray], columns: list[str]) -> float:
    x = np.column_stack([data[c].astype(float) for c in columns])
    scores = cross_val_predict(LogisticRegression(max_iter=2000), x, data["y"], cv=GroupKFold(5), groups=data["uscc"],
                               method="predict_proba")[:, 1]
    return float(roc_auc_score(data["y"], scores))


def row_oracle(folder: Path) -> float | None:
    """AUC of each outcome row's true PD (economies with the health path), else None."""
    if not (folder / "truth" / "outcomes.parquet").exists():
        return None
    rows = duckdb.sql(f"""SELECT o.defaulted_12m::INT AS y, t.pd_12m FROM '{folder}/outcomes.parquet' o
                          JOIN '{folder}/truth/outcomes.parquet' t USING (uscc, observed_at)""").fetchnumpy()
    return float(roc_auc_score(rows["y"], rows["pd_12m"]))


def measure(folder: Path) -> dict[str, float]:
    data = load(folder)
    y, ties = data["y"], data["ties"]
    logit = np.log(data["pd_12m"] / (1 - data["pd_12m"]))
    oracle = row_oracle(folder)
    return {
        **({"auc_true_pd_row": oracle} if oracle is not None else {}),
        "default_rate": float(y.mean()),
        "tied_rate_ratio": float(y[ties >= 2].mean() / y.mean()),
        "auc_true_pd": float(roc_auc_score(y, logit)),
        "auc_true_pd_without_ties": float(roc_auc_score(y, logit + TIE_TERM * ties)),
        "auc_registry_bureau": model_auc(data, REGISTRY_BUREAU),
        "auc_registry_bureau_ties": model_auc(data, [*REGISTRY_BUREAU, "ties"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+")
    for folder in parser.parse_args().folders:
        print(json.dumps({"folder": str(folder), **{k: round(v, 4) for k, v in measure(folder).items()}}))


if __name__ == "__main__":
    main()
