"""Scorecard training and batch scoring time on a large synthetic labelled frame (default 1M rows).

    PYTHONPATH=src nice python bench/risk_scorecard.py [--rows 1000000] [--seed 42] [--json]

The frame has 6 numeric features (one with 10% missing and a -1 special code) and 3 categorical ones
(one with 200 levels); bad odds follow a known logit so the card's AUC can be read beside the time.
Check `free -g` first: needs roughly 3 GB at 1M rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np
import pandas as pd


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 75, rows).astype(np.float64),
        "income": rng.lognormal(10, 0.6, rows),
        "debt_ratio": rng.uniform(0, 1.5, rows),
        "months_on_book": rng.integers(0, 240, rows).astype(np.float64),
        "utilisation": rng.beta(2, 5, rows),
        "inquiries": rng.poisson(1.5, rows).astype(np.float64),
        "region": rng.choice([f"r{i}" for i in range(12)], rows),
        "product": rng.choice(["card", "loan", "mortgage", "overdraft"], rows, p=[0.4, 0.3, 0.2, 0.1]),
        "branch": rng.choice([f"b{i:03d}" for i in range(200)], rows),
    })
    region_effect = {f"r{i}": (i - 6) / 10 for i in range(12)}
    logit = (-2.2 + 1.6 * frame["debt_ratio"] - 0.02 * (frame["age"] - 40) - 0.3 * (np.log(frame["income"]) - 10)
             + 2.0 * frame["utilisation"] + 0.25 * frame["inquiries"] - 0.003 * frame["months_on_book"]
             + frame["region"].map(region_effect) + frame["product"].map({"card": 0.3, "loan": 0.0, "mortgage": -0.6,
                                                                          "overdraft": 0.5}))
    frame["bad"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    missing = rng.random(rows) < 0.10
    special = rng.random(rows) < 0.02
    frame.loc[missing, "income"] = np.nan
    frame.loc[special, "income"] = -1.0
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from chainlight.risk.scorecard import Scorecard, auc

    start = time.perf_counter()
    frame = synthetic(args.rows, args.seed)
    make_s = time.perf_counter() - start
    start = time.perf_counter()
    card = Scorecard.fit(frame, "bad", 1, special_codes={"income": [-1]}, seed=args.seed)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pd_ = card.predict_pd(frame)
    score_s = time.perf_counter() - start
    result = {"rows": args.rows, "features": len(card.features), "bad_rate": round(float(frame["bad"].mean()), 4),
              "fit_seconds": round(fit_s, 1), "score_seconds": round(score_s, 2),
              "rows_per_second_scoring": round(args.rows / score_s), "training_auc": round(auc(frame["bad"].to_numpy(), pd_), 4),
              "data_seconds": round(make_s, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"scorecard on {args.rows:,} rows × 9 features ({result['bad_rate']:.1%} bad): fit {fit_s:.1f} s, "
              f"score {score_s:.2f} s ({result['rows_per_second_scoring']:,} rows/s), training AUC {result['training_auc']}, "
              f"{result['features']} features kept, peak RSS {result['peak_rss_mb']:,} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
