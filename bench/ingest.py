"""Ingest throughput: N invoice rows from CSV through chainlight's checks vs a bare DuckDB read_csv.

    python bench/ingest.py [--rows 5000000] [--bad-share 0.01] [--workdir DIR] [--engine duckdb|spark]

Prints rows/s for both in the same run and the ratio (goal ≥ 0.5: validation should cost less than
the read itself). With ``--engine spark`` chainlight ingests into a Spark warehouse (local mode unless
``--spark-master`` says otherwise; the session's start is not counted). The file is generated (valid
USCCs, a small share of bad rows) and reused if present.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from chainlight import uscc
from chainlight.config import Config, EngineSettings
from chainlight.ingest import run as ingest
from chainlight.workspace import Workspace


def make_invoices(path: Path, rows: int, bad_share: float, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    firms = [uscc.make("9", "1", f"{330000 + i % 1000:06d}", f"{i:08d}") for i in range(5000)]
    seller = np.array(firms)[rng.integers(0, len(firms), rows)]
    buyer_idx = rng.integers(0, len(firms), rows)
    buyer_uscc = np.where(rng.random(rows) < 0.4, "", np.array(firms)[buyer_idx])
    names = np.array([f"嘉兴市某某{i}材料有限公司" for i in range(len(firms))])[buyer_idx]
    amount = np.round(rng.lognormal(9, 1.2, rows), 2)
    days = rng.integers(0, 1095, rows)
    dates = (np.datetime64("2023-01-01") + days).astype(str)
    status = np.where(rng.random(rows) < 0.02, "voided", "normal")
    bad = rng.random(rows) < bad_share
    amount_text = np.where(bad, "-12.5", amount.astype(str))
    table = pa.table({
        "invoice_id": [f"INV{i:010d}" for i in range(rows)], "seller_uscc": seller, "buyer_name": names,
        "buyer_uscc": buyer_uscc, "item_name": np.full(rows, "耐高温尼龙PA6T"), "tax_code": np.full(rows, "1070213"),
        "amount": amount_text, "issue_date": dates, "status": status})
    pacsv.write_csv(table, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--bad-share", type=float, default=0.01)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "chainlight-bench-ingest")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--spark-driver-memory", default="2g")
    args = parser.parse_args()
    cfg = Config(engine=EngineSettings(name=args.engine, spark_conf={
        "spark.master": args.spark_master, "spark.driver.memory": args.spark_driver_memory,
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"})) if args.engine == "spark" else Config()
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv_path = args.workdir / f"invoices_{args.rows}.csv"
    if not csv_path.exists():
        print(f"generating {args.rows:,} rows -> {csv_path}", file=sys.stderr)
        make_invoices(csv_path, args.rows, args.bad_share)
    size_mb = csv_path.stat().st_size / 1e6

    bare_db = args.workdir / "bare.duckdb"
    bare_db.unlink(missing_ok=True)
    con = duckdb.connect(str(bare_db))
    start = time.perf_counter()
    con.execute("CREATE TABLE invoices AS SELECT * FROM read_csv($p)", {"p": str(csv_path)}).fetchall()
    bare_s = time.perf_counter() - start
    con.close()

    ws_dir = args.workdir / f"ws-{args.engine}"
    shutil.rmtree(ws_dir, ignore_errors=True)
    with Workspace(ws_dir, cfg) as ws:  # opening a Spark workspace starts the session: not timed
        start = time.perf_counter()
        report = ingest(ws, cfg, [csv_path])
        ours_s = time.perf_counter() - start
    totals = report.totals()
    print(f"file: {csv_path.name} ({size_mb:,.0f} MB, {args.rows:,} rows)")
    print(f"bare duckdb read_csv -> table: {bare_s:6.2f} s  {args.rows / bare_s:12,.0f} rows/s")
    print(f"chainlight ingest ({args.engine}, checked): {ours_s:6.2f} s  {args.rows / ours_s:12,.0f} rows/s  "
          f"loaded {totals['rows_loaded']:,} quarantined {totals['rows_quarantined']:,}")
    print(f"ratio (ours / bare throughput): {bare_s / ours_s:.2f}  (goal >= 0.5)")


if __name__ == "__main__":
    main()
