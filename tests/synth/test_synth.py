"""The synthetic economy: deterministic, valid, consistent with its own truth, and hard where it should be."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from chainlight import ingest, uscc
from chainlight.config import Config
from chainlight.ontology.model import load_default
from chainlight.synth import STORY_FIRM_NAME, generate
from chainlight.workspace import Workspace


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def economy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("economy")
    generate(out, firms=3000, seed=11)
    return out


def sql(query: str) -> list[tuple]:
    return duckdb.sql(query).fetchall()


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    generate(tmp_path / "a", firms=400, seed=5)
    generate(tmp_path / "b", firms=400, seed=5)
    generate(tmp_path / "c", firms=400, seed=6)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["invoices.parquet"] != digest(tmp_path / "c")["invoices.parquet"]


def test_every_uscc_valid_and_unique(economy: Path) -> None:
    codes = pq.read_table(economy / "enterprises.parquet").column("uscc").to_pylist()
    assert len(codes) == len(set(codes)) == 3000
    assert all(uscc.is_valid(c) and uscc.organisation_code_ok(c) for c in codes)


def test_every_true_edge_has_normal_invoices(economy: Path) -> None:
    missing = sql(f"""
        SELECT count(*) FROM '{economy}/truth/supply_edges.parquet' e
        WHERE NOT EXISTS (SELECT 1 FROM '{economy}/invoices.parquet' i WHERE i.seller_uscc = e.seller_uscc
              AND i.status = 'normal' AND i.invoice_id IN (SELECT source_id FROM '{economy}/truth/mentions.parquet' m
              WHERE m.true_uscc = e.buyer_uscc))""")[0][0]
    assert missing == 0
    assert sql(f"SELECT min(invoice_count) FROM '{economy}/truth/supply_edges.parquet'")[0][0] >= 1


def test_mentions_point_at_real_firms_and_sources(economy: Path) -> None:
    m, e = f"'{economy}/truth/mentions.parquet'", f"'{economy}/enterprises.parquet'"
    assert sql(f"SELECT count(*) FROM {m} WHERE true_uscc IS NOT NULL AND true_uscc NOT IN (SELECT uscc FROM {e})")[0][0] == 0
    assert sql(f"SELECT count(*) FROM {m} WHERE source = 'invoice' AND source_id NOT IN "
               f"(SELECT invoice_id FROM '{economy}/invoices.parquet')")[0][0] == 0
    invoices = sql(f"SELECT count(*) FROM '{economy}/invoices.parquet'")[0][0]
    assert sql(f"SELECT count(*) FROM {m} WHERE source = 'invoice'")[0][0] == invoices
    # report mentions: the name sits in the text at the recorded offset
    rows = sql(f"SELECT r.text, m.mention_id, m.name_as_written FROM {m} m JOIN '{economy}/reports.parquet' r "
               "ON m.source_id = r.report_id WHERE m.source = 'report'")
    # every report mention names a real report, and there are some to check
    assert len(rows) == sql(f"SELECT count(*) FROM {m} WHERE source = 'report'")[0][0] > 0
    for text, mention_id, name in rows:
        start = int(mention_id.rsplit(":", 1)[1])
        assert text[start:start + len(name)] == name


def test_report_fact_spans_are_exact(economy: Path) -> None:
    rows = sql(f"SELECT r.text, f.char_start, f.char_end, f.kind FROM '{economy}/truth/report_facts.parquet' f "
               f"JOIN '{economy}/reports.parquet' r USING (report_id)")
    kinds = {kind for *_, kind in rows}
    assert {"trend", "figure", "true_claim", "false_claim", "injection", "disagreement"} <= kinds
    for text, start, end, kind in rows:
        span = text[start:end]
        assert span.endswith(("。", ".")), span
        if kind == "injection":
            assert "忽略之前" in span or "Ignore previous" in span


def test_false_claims_have_no_invoices_true_claims_do(economy: Path) -> None:
    counts = dict(sql(f"""
        SELECT f.kind, count(*) FILTER (WHERE e.seller_uscc IS NOT NULL) FROM '{economy}/truth/report_facts.parquet' f
        LEFT JOIN '{economy}/truth/supply_edges.parquet' e ON e.seller_uscc = f.seller_uscc AND e.buyer_uscc = f.buyer_uscc
        WHERE f.kind IN ('true_claim', 'false_claim') GROUP BY 1"""))
    totals = dict(sql(f"SELECT kind, count(*) FROM '{economy}/truth/report_facts.parquet' GROUP BY 1"))
    assert counts["false_claim"] == 0
    assert counts["true_claim"] == totals["true_claim"]


def test_misregistered_share_and_registry_is_misleading(economy: Path) -> None:
    share = sql(f"SELECT avg(misregistered::INT) FROM '{economy}/truth/firms.parquet'")[0][0]
    assert 0.30 <= share <= 0.40
    vague = sql(f"SELECT count(*) FROM '{economy}/enterprises.parquet' WHERE industry_code IN ('3499','7519','5179','5199')")[0][0]
    assert vague > 0.1 * 3000


def test_story_firm(economy: Path) -> None:
    [(code, city, industry, high_tech, scope)] = sql(
        f"SELECT uscc, city, industry_code, high_tech, scope FROM '{economy}/enterprises.parquet' WHERE name = '{STORY_FIRM_NAME}'")
    assert (city, industry, high_tech) == ("嘉兴", "3499", True) and "机械" in scope
    truth = sql(f"SELECT main_segment_id, misregistered, cluster_id FROM '{economy}/truth/firms.parquet' WHERE uscc = '{code}'")
    assert truth == [("automotive.engineering_plastics", True, "automotive.engineering_plastics@嘉兴")]
    patents = sql(f"SELECT count(*) FROM '{economy}/truth/mentions.parquet' WHERE source = 'patent' AND true_uscc = '{code}'")
    assert patents[0][0] == 12
    path = sql(f"""SELECT a.buyer_uscc, b.buyer_uscc FROM '{economy}/truth/supply_edges.parquet' a
                   JOIN '{economy}/truth/supply_edges.parquet' b ON b.seller_uscc = a.buyer_uscc
                   JOIN '{economy}/truth/firms.parquet' f ON f.uscc = b.buyer_uscc
                   WHERE a.seller_uscc = '{code}' AND f.is_anchor AND f.chain_id = 'automotive'""")
    assert path
    yearly = sql(f"SELECT sum(amount) / 3 FROM '{economy}/invoices.parquet' WHERE seller_uscc = '{code}' "
                 "AND status <> 'voided'")[0][0]
    assert 5e6 < yearly < 2e7
    items = sql(f"SELECT DISTINCT item_name FROM '{economy}/invoices.parquet' WHERE seller_uscc = '{code}'")
    assert any("尼龙" in i or "PA" in i or "聚酰胺" in i for (i,) in items)


def test_default_rates_are_calibrated(economy: Path) -> None:
    rows = dict(sql(f"""SELECT f.stable_large_ties >= 2, avg(o.defaulted_12m::INT) FROM '{economy}/outcomes.parquet' o
                       JOIN '{economy}/truth/firms.parquet' f USING (uscc) GROUP BY 1"""))
    base = sql(f"SELECT avg(defaulted_12m::INT) FROM '{economy}/outcomes.parquet'")[0][0]
    assert 0.025 <= base <= 0.06
    assert 0.3 <= rows[True] / rows[False] <= 0.8  # stable ties to large firms: roughly half the rate


def test_gbk_csv_output_ingests_cleanly(tmp_path: Path) -> None:
    generate(tmp_path / "csv", firms=300, seed=3, fmt="csv", encoding="gbk")
    raw = (tmp_path / "csv" / "enterprises.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "有限" in raw.decode("gbk")
    with Workspace(tmp_path / "ws") as ws:
        report = ingest.run(ws, Config(), [tmp_path / "csv"])
        assert not report.errors
        assert report.totals()["rows_quarantined"] == 0
        encodings = {Path(f.file).name: f.encoding for f in report.files}
        assert encodings["enterprises.csv"] == encodings["invoices.csv"] == "gbk"  # ASCII-only files read as UTF-8


def test_default_ontology_is_consistent() -> None:
    ontology = load_default()
    segments = ontology.segments()
    assert len(ontology.chains) == 9
    assert all(e.source in segments and e.target in segments for e in ontology.edges())
    assert any(ontology.chain_of(e.source).id != ontology.chain_of(e.target).id for e in ontology.edges())


def test_bad_arguments_are_input_errors(tmp_path: Path) -> None:
    from chainlight.errors import InputError
    with pytest.raises(InputError, match="format"):
        generate(tmp_path, firms=500, fmt="xlsx")
    with pytest.raises(InputError, match="at least"):
        generate(tmp_path, firms=10)


def test_health_path_is_persistent_stationary_and_steady_for_the_story_firm(tmp_path: Path) -> None:
    import numpy as np

    from chainlight.synth import credit
    path = credit.health_path(20_000, 0.4, np.random.SeedSequence(5), tmp_path)
    assert path.shape == (20_000, 36) and path.dtype == np.float16  # firms × months
    assert not path[0].any()  # the story firm keeps its level
    rest = np.array(path[1:]).T.astype(float)  # months × firms
    assert 0.37 < rest[0].std() < 0.43 and 0.37 < rest[-1].std() < 0.43  # stationary spread
    month = np.corrcoef(rest[:-1].ravel(), rest[1:].ravel())[0, 1]
    year = np.corrcoef(rest[:-12].ravel(), rest[12:].ravel())[0, 1]
    assert 0.87 < month < 0.93 and 0.2 < year < 0.37  # ρ = 0.9 a month, ρ¹² ≈ 0.28 a year


def test_health_of_the_date_drives_default_and_shows_in_recent_sales(economy: Path) -> None:
    """Default at a date follows that date's health, beyond the lasting level; and a firm whose health
    fell lately sells less lately to the same customers than before (the trouble shows before default)."""
    truth = f"'{economy}/truth/outcomes.parquet'"
    (gap,) = sql(f"""SELECT avg(t.health - f.health) FILTER (WHERE o.defaulted_12m)
                         - avg(t.health - f.health) FILTER (WHERE NOT o.defaulted_12m)
                     FROM '{economy}/outcomes.parquet' o JOIN {truth} t USING (uscc, observed_at)
                     JOIN '{economy}/truth/firms.parquet' f USING (uscc)""")[0]
    assert gap < -0.05  # defaulters were below their usual health at the date (≈ −0.09; SE ≈ 0.01)
    (rho,) = sql(f"""
        WITH lines AS (SELECT seller_uscc AS uscc, buyer_name, ln(amount) AS y, issue_date > DATE '2025-06-30' AS last
                       FROM '{economy}/invoices.parquet'
                       WHERE status = 'normal' AND issue_date > DATE '2024-06-30'),
             edges AS (SELECT uscc, avg(y) FILTER (WHERE last) - avg(y) FILTER (WHERE NOT last) AS dy
                       FROM lines GROUP BY uscc, buyer_name),
             firms AS (SELECT uscc, avg(dy) AS dy FROM edges WHERE dy IS NOT NULL GROUP BY uscc)
        SELECT corr(d.dy, f.health_now - f.health) FROM firms d JOIN '{economy}/truth/firms.parquet' f USING (uscc)""")[0]
    assert rho > 0.1
    rows = sql(f"SELECT count(*) FROM {truth}")[0][0]
    assert rows == sql(f"SELECT count(*) FROM '{economy}/outcomes.parquet'")[0][0]
