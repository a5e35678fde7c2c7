"""The expert stage at scale: profiles and operating scores for 1M firms — time, firms/s, peak memory.

    python bench/expert.py [--firms 1000000] [--workspace DIR]

The expert reads earlier stages' tables only, so this benchmark synthesises exactly those tables at
the requested scale inside DuckDB (no generator, ingest, resolve, mount or graph run): enterprises,
about 39 invoices per firm over 36 months (the generator issues 40) on 3 customer relationships per firm (with growth,
seasonality, noise, voids and churn), entity_links for every invoice, main-segment mounts, supply
edges, graph features, outcomes for the weight fit, and 3 reports per segment with their trend
facts. Then the stage runs once in a fresh process. Goal on 2 cores: 1M firms in ≤ 60 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stage import measure  # noqa: E402

SEGMENTS = 60
CUSTOMERS = 3
INVOICES_PER_EDGE = 13  # 3 x 13 = 39 a firm, the generator's density since invoices went to 40 a firm


def synthesise(db: Path, firms: int) -> None:
    """Write the tables the expert reads, at scale, straight into a workspace database."""
    from chainlight.config import Config
    from chainlight.ontology.model import load_default
    from chainlight.workspace import Workspace

    with Workspace(db.parent, Config()):
        pass  # create the workspace's system tables
    segments = sorted(load_default().segments().values(), key=lambda s: s.id)[:SEGMENTS]
    con = duckdb.connect(str(db))
    con.execute("SELECT setseed(0.42)")
    for view in ("enterprises", "invoices", "reports", "outcomes"):  # plain tables here, not ingested files
        con.execute(f"DROP VIEW IF EXISTS {view}")
    con.execute(f"""
        CREATE TABLE enterprises AS SELECT 'F' || lpad(CAST(i AS VARCHAR), 17, '0') AS uscc,
            '企业' || CAST(i AS VARCHAR) || '有限公司' AS name, NULL::VARCHAR AS scope, NULL::VARCHAR AS industry_code,
            NULL::VARCHAR AS province, NULL::VARCHAR AS city, DATE '2010-01-01' AS founded,
            1e6 AS registered_capital, false AS high_tech, i, random() * 2 - 1 AS health
        FROM range({firms}) t(i)""")
    con.execute(f"""
        CREATE TABLE _edges AS
        SELECT row_number() OVER () AS e, f.i AS seller, (f.i * 7919 + k * 104729 + 1) % {firms} AS buyer,
               exp(random() * 4 + 9) AS base, 0.05 * f.health + (random() - 0.5) * 0.1 AS growth,
               CAST(floor(random() * 6) AS INTEGER) AS first_month,
               CASE WHEN random() < 0.2 - 0.1 * f.health THEN CAST(floor(12 + random() * 24) AS INTEGER) ELSE 35 END
                   AS last_month
        FROM enterprises f, range({CUSTOMERS}) t(k)""")
    con.execute(f"""
        CREATE TABLE invoices AS
        SELECT 'INV' || lpad(CAST(e * {INVOICES_PER_EDGE} + n AS VARCHAR), 12, '0') AS invoice_id,
               'F' || lpad(CAST(seller AS VARCHAR), 17, '0') AS seller_uscc, '买方' || CAST(buyer AS VARCHAR) AS buyer_name,
               NULL::VARCHAR AS buyer_uscc, '货物' AS item_name, NULL::VARCHAR AS tax_code,
               round(base * exp(growth * m / 12.0) * (1 + 0.2 * sin(m)) * exp((random() - 0.5) * 0.6), 2) AS amount,
               DATE '2023-01-01' + INTERVAL (m) MONTH + INTERVAL (CAST(floor(random() * 28) AS INTEGER)) DAY AS issue_date,
               CASE WHEN random() < 0.02 THEN 'voided' ELSE 'normal' END AS status, buyer
        FROM (SELECT *, first_month + CAST(floor(random() * (last_month - first_month + 1)) AS INTEGER) AS m
              FROM _edges, range({INVOICES_PER_EDGE}) t(n))""")
    con.execute("""
        CREATE TABLE entity_links AS SELECT 'invoice:' || invoice_id AS mention_id, 'invoice' AS source,
            invoice_id AS source_id, buyer_name AS name_as_written, 'F' || lpad(CAST(buyer AS VARCHAR), 17, '0') AS uscc,
            1.0 AS score, 'bench' AS method FROM invoices""")
    con.execute("ALTER TABLE invoices DROP COLUMN buyer")
    con.execute("CREATE TABLE _segments (k INTEGER, segment_id VARCHAR, tier VARCHAR)")
    con.executemany("INSERT INTO _segments VALUES (?, ?, ?)", [(k, s.id, s.tier) for k, s in enumerate(segments)])
    con.execute(f"""
        CREATE TABLE mounts AS SELECT e.uscc, s.segment_id, split_part(s.segment_id, '.', 1) AS chain_id, s.tier,
            1.0 AS share, 0.9 AS confidence, 1 AS rank
        FROM enterprises e JOIN _segments s ON s.k = e.i % {len(segments)}""")
    con.execute("""
        CREATE TABLE supply_edges AS
        SELECT i.seller_uscc, l.uscc AS buyer_uscc, round(sum(i.amount), 2) AS amount, count(*) AS invoice_count,
               count(DISTINCT date_trunc('month', i.issue_date)) AS months_active, min(i.issue_date) AS first_date,
               max(i.issue_date) AS last_date, 0.5 AS stability, 0.0 AS trend, 0.3 AS seller_revenue_share,
               0.1 AS buyer_purchase_share, true AS ontology_consistent, true AS is_supply
        FROM invoices i JOIN entity_links l ON l.mention_id = 'invoice:' || i.invoice_id
        WHERE i.status = 'normal' GROUP BY 1, 2""")
    con.execute("""
        CREATE TABLE graph_features AS
        SELECT e.uscc, m.chain_id, m.tier, false AS is_anchor, CAST(1 + e.i % 4 AS BIGINT) AS hops_to_anchor,
               random() AS anchor_flow_share, 3 AS customer_count, 2 AS supplier_count, 0.4 + random() * 0.5 AS customer_hhi,
               0.5 + random() * 0.5 AS top_customer_share, 0.5 AS supplier_hhi, 20.0 AS tenure_mean_months,
               30.0 AS tenure_max_months, 1e-6 AS pagerank, NULL::VARCHAR AS cluster_id, NULL::BIGINT AS cluster_size,
               CAST(floor(random() * 3) AS BIGINT) AS stable_large_ties, 1e6 AS sales_total, 1e6 AS purchases_total,
               0.0 AS sales_growth
        FROM enterprises e JOIN mounts m USING (uscc)""")
    con.execute("""
        CREATE TABLE outcomes AS SELECT uscc, DATE '2024-12-31' AS observed_at,
            random() < 1 / (1 + exp(3.2 + 1.0 * health)) AS defaulted_12m FROM enterprises""")
    con.execute("""
        CREATE TABLE reports AS SELECT 'RPT' || lpad(CAST(k * 3 + r AS VARCHAR), 6, '0') AS report_id,
            segment_id || ' 行业研究报告' AS title, DATE '2025-01-15' + INTERVAL (r * 90) DAY AS published,
            segment_id || '行业景气上行，明年同比增长8.0%。' AS text
        FROM _segments, range(3) t(r)""")
    con.execute("""
        CREATE TABLE facts AS SELECT report_id || ':t' AS fact_id, 'trend' AS kind, 'report' AS source,
            report_id AS source_id, 0 AS start, length(text) AS "end", text AS span_text, NULL::VARCHAR AS subject,
            'trend' AS relation, NULL::VARCHAR AS object, split_part(text, '行业', 1) AS segment_id, 'up' AS direction,
            8.0 AS value, NULL::VARCHAR AS subject_uscc, NULL::VARCHAR AS object_uscc, 0.85 AS confidence,
            'offline' AS method FROM reports""")
    con.execute("ALTER TABLE enterprises DROP COLUMN i")
    con.execute("ALTER TABLE enterprises DROP COLUMN health")
    con.execute("DROP TABLE _edges")
    con.execute("DROP TABLE _segments")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--memory-limit", default="", help="DuckDB memory limit for the stage, e.g. 8GB "
                        "(default: DuckDB's 80%% of RAM, which a 1M-firm run will fill)")
    args = parser.parse_args()
    workspace = args.workspace or Path(tempfile.gettempdir()) / f"chainlight-bench-expert-{args.firms}"
    db = workspace / "chainlight.duckdb"
    if not db.exists():
        workspace.mkdir(parents=True, exist_ok=True)
        synthesise(db, args.firms)
    f = measure(workspace, "expert", args.memory_limit)
    t = f["tables"]
    print(f"expert stage: {f['firms']:,} firms, {f['invoices']:,} invoices -> {t['profiles']:,} profiles and "
          f"{t['operating_scores']:,} scores in {f['seconds']:.1f} s ({f['firms'] / f['seconds']:,.0f} firms/s), "
          f"peak {f['peak_mb']:,.0f} MB, {f['cpu_s']:.0f} CPU-s (load average {os.getloadavg()[0]:.1f} after)")


if __name__ == "__main__":
    main()
