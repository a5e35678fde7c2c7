"""Risk engine benchmark: batch scoring of 1M firms, one in-process decision (p50/p99), scorecard training on 1M rows.

    python bench/risk.py --workspace chainlight-demo [--firms 1000000] [--decisions 2000]

Uses a workspace where the risk stage has run (``chainlight demo``). Its firms' feature rows are
resampled to ``--firms`` rows (a 1M-firm economy's features have the same columns and types; the
scorecard's cost depends on rows and columns, not on where they came from); its training frame is
resampled to 1M rows for the training time. Decisions run on a copy of the workspace, so the
original audit log is untouched. Goals (issue 16): scoring ≤ 30 s, decision p99 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from chainlight.config import Config
from chainlight.risk import claims, decide, features
from chainlight.risk.model import fit_card, load_card
from chainlight.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--train-rows", type=int, default=1_000_000)
    parser.add_argument("--no-fsync", dest="fsync", action="store_false",
                        help="time decisions without flushing each audit entry to disk (risk.audit_fsync: false)")
    args = parser.parse_args()
    cfg = Config()
    rng = np.random.default_rng(42)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "ws"
        shutil.copytree(args.workspace, copy)
        with Workspace(copy, cfg) as ws:
            meta = {r["view"]: r for r in ws.engine.query("SELECT * FROM risk_models").to_pylist()}["chain"]
            card = load_card(decide.model_path(ws, meta["model_hash"]))
            columns = meta["features"].split(",")
            snapshot = ws.engine.query("SELECT * FROM risk_features").to_pandas()
            big = snapshot.iloc[rng.integers(0, len(snapshot), args.firms)].reset_index(drop=True)
            ids = [f"F{i}" for i in range(len(big))]
            start = time.perf_counter()
            scored = decide.ScoreTable(card, decide.model_frame(big, columns), ids)
            scoring = time.perf_counter() - start
            print(f"batch scoring: {len(scored):,} firms (PD, score, per-feature points) in {scoring:.1f} s "
                  f"({len(scored) / scoring:,.0f} firms/s; goal ≤ 30 s for 1M)")

            start = time.perf_counter()
            service = decide.DecisionService.load(ws, cfg)
            service.durable = args.fsync
            print(f"service load: {len(service.features):,} firms in memory in {time.perf_counter() - start:.2f} s")
            ids = list(service.features)
            picks = [ids[i] for i in rng.integers(0, len(ids), args.decisions)]
            timings = []
            for k, uscc in enumerate(picks):
                start = time.perf_counter()
                service.decide(uscc, 500_000.0, f"BENCH{k}")
                timings.append(time.perf_counter() - start)
            ms = np.array(timings) * 1000
            print(f"one decision (policy, line, reasons, hash-chained audit append{' + fdatasync' if args.fsync else ''}): "
                  f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms over {len(ms):,} "
                  f"(goal p99 ≤ 5 ms)")

            verdicts = claims.build(ws)
            outcomes = ws.engine.query("SELECT uscc, observed_at AS as_of, defaulted_12m FROM outcomes")
            train = features.build(ws, cfg, outcomes, verdicts).merge(
                outcomes.to_pandas(), on=["uscc", "as_of"])
            train = train.iloc[rng.integers(0, len(train), args.train_rows)].reset_index(drop=True)
            start = time.perf_counter()
            fit_card(train, "defaulted_12m", columns, features.CATEGORICAL, cfg.seed)
            print(f"scorecard training: {len(train):,} rows × {len(columns)} features in "
                  f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
