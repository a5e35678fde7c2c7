"""German credit (../shared/data/credit_german): stratified 5-fold CV AUC of chainlight's scorecard beside
an out-of-the-box optbinning ``Scorecard`` (BinningProcess + LogisticRegression, defaults) and the LightGBM
challenger, all on the same seeded folds.

    PYTHONPATH=src python bench/credit_german.py [--data CSV] [--folds 5] [--seeds 42,7,2024] [--json]

The 200 withheld rows are never seen here: tune on these CV figures only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "credit_german" / "germancredit.csv"
LABEL, BAD = "creditability", "bad"


def optbinning_default(path: Path, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """optbinning's Scorecard as its users start: pandas' typed read, BinningProcess and LogisticRegression
    with defaults (text columns are categorical by their dtype)."""
    import pandas as pd
    from optbinning import BinningProcess
    from optbinning import Scorecard as OptbScorecard
    from sklearn.linear_model import LogisticRegression

    from chainlight.risk.scorecard import auc

    typed = pd.read_csv(path).drop(columns=[LABEL])
    aucs = []
    for train, test in folds:
        model = OptbScorecard(binning_process=BinningProcess(list(typed.columns)), estimator=LogisticRegression())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(typed.iloc[train], y[train])
            aucs.append(auc(y[test], model.predict_proba(typed.iloc[test])[:, 1]))
    return aucs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", default="42", help="comma-separated fold seeds; figures are averaged over them")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"error: {args.data} is absent (see ../shared/data/credit_german/SOURCE.md)", file=sys.stderr)
        return 1

    from chainlight.risk.scorecard import cross_validate, fit_challenger, labelled, read_csv, stratified_folds

    frame = read_csv(args.data)
    y, frame = labelled(frame, LABEL, BAD)
    seeds = [int(s) for s in args.seeds.split(",")]
    models = ("chainlight scorecard", "optbinning Scorecard (defaults)", "LightGBM challenger")
    aucs: dict[str, list[float]] = {m: [] for m in models}
    seconds = dict.fromkeys(models, 0.0)
    for seed in seeds:
        folds = stratified_folds(y, args.folds, seed)
        for model in models:
            start = time.perf_counter()
            if model == models[0]:
                aucs[model] += cross_validate(frame, LABEL, BAD, folds=args.folds, seed=seed).fold_aucs
            elif model == models[1]:
                aucs[model] += optbinning_default(args.data, y, folds)
            else:
                aucs[model] += fit_challenger(frame, LABEL, BAD, folds=args.folds, seed=seed).fold_aucs
            seconds[model] += time.perf_counter() - start
    result = {m: {"mean_auc": round(float(np.mean(a)), 4), "std_auc": round(float(np.std(a)), 4),
                  "fold_aucs": [round(x, 4) for x in a], "seconds": round(seconds[m], 1)} for m, a in aucs.items()}
    if args.json:
        print(json.dumps({"rows": len(y), "bads": int(y.sum()), "folds": args.folds, "seeds": seeds, "models": result}))
        return 0
    print(f"credit_german: {len(y)} rows, {int(y.sum())} bad, stratified {args.folds}-fold CV, fold seeds {seeds}")
    print(f"{'model':34} {'mean AUC':>9} {'std':>7} {'seconds':>8}  fold AUCs")
    for name, r in result.items():
        folds_text = " ".join(f"{a:.4f}" for a in r["fold_aucs"])
        print(f"{name:34} {r['mean_auc']:9.4f} {r['std_auc']:7.4f} {r['seconds']:8.1f}  {folds_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
