"""Claim verdicts on hand-built tables: supported / contradicted / unverifiable with the deciding evidence."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from conftest import load_tables, make_uscc

from chainlight.risk import claims
from chainlight.workspace import Workspace

A, B, C, D = (make_uscc(i) for i in range(31, 35))


def inv(n: int, seller: str, buyer: str, amount: float, item: str = "尼龙", status: str = "normal") -> dict:
    return {"invoice_id": f"I{n}", "seller_uscc": seller, "buyer_name": f"买方{buyer[-4:]}", "buyer_uscc": buyer,
            "item_name": item, "tax_code": "", "amount": amount, "issue_date": "2025-03-15", "status": status}


def fact(fid: str, kind: str, source: str, source_id: str, subject: str | None, obj: str | None = None,
         segment: str | None = None, start: int = 0) -> dict:
    return {"fact_id": fid, "kind": kind, "source": source, "source_id": source_id, "start": start, "end": start + 5,
            "span_text": "……", "segment_id": segment, "subject_uscc": subject, "object_uscc": obj}


def verdicts(ws: Workspace, tmp_path: Path) -> dict[str, dict]:
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": A, "name": "甲公司", "high_tech": True}, {"uscc": B, "name": "乙公司", "high_tech": True},
                        {"uscc": C, "name": "丙公司"}, {"uscc": D, "name": "丁公司"}],
        "invoices": [inv(1, A, B, 100), inv(2, A, B, 300), inv(3, A, B, 200), inv(4, A, B, 50),
                     inv(5, A, C, 999, status="voided"), inv(6, C, D, 70, item="咨询服务")],
        "reports": [{"report_id": "R1", "title": "t", "published": "2025-05-01", "text": "……"}],
        "patents": [{"patent_id": "P1", "holder_name": "甲公司", "title": "一种尼龙", "apply_date": "2020-01-01",
                     "grant_date": "2021-01-01"}]})
    ws.engine.write_arrow("entity_links", pa.table({
        "mention_id": [f"invoice:I{i}" for i in range(1, 7)] + ["patent:P1"],
        "uscc": [B, B, B, B, C, D, A]}))
    ws.engine.write_arrow("facts", pa.Table.from_pylist([
        fact("s_ab", "supply_claim", "report", "R1", A, B, start=0),
        fact("s_ac", "supply_claim", "report", "R1", A, C, start=10),
        fact("s_db", "supply_claim", "report", "R1", D, B, start=20),
        fact("item1", "product_segment", "item", "尼龙|", None, segment="auto.plastics"),
        fact("p_a1", "product_segment", "product", f"{A}:尼龙", A, segment="auto.plastics"),
        fact("p_a2", "product_segment", "product", f"{A}:钢材", A, segment="auto.steel"),
        fact("p_d", "product_segment", "product", f"{D}:钢材", D, segment="auto.steel")]))
    table = claims.build(ws)
    return {r["claim_id"]: r for r in ws.engine.query(f"SELECT * FROM {table}").to_pylist()}


def test_verdicts_and_evidence(ws: Workspace, tmp_path: Path) -> None:
    v = verdicts(ws, tmp_path)
    assert v["s_ab"]["verdict"] == "supported"
    assert v["s_ab"]["evidence_ids"] == ["I2", "I3", "I1"]  # the three largest, largest first
    assert v["s_ab"]["source_date"].isoformat() == "2025-05-01"
    assert v["s_ac"]["verdict"] == "contradicted" and v["s_ac"]["evidence_ids"] == []  # the A→C invoice was voided
    assert v["s_db"]["verdict"] == "unverifiable"  # D has no sales of its own in the data
    assert v["p_a1"]["verdict"] == "supported" and v["p_a1"]["evidence_ids"] == ["I2", "I3", "I1"]
    assert v["p_a2"]["verdict"] == "contradicted"
    assert v["p_d"]["verdict"] == "unverifiable"
    assert v[f"registry:high_tech:{A}"]["verdict"] == "supported"
    assert v[f"registry:high_tech:{A}"]["evidence_ids"] == ["P1"]
    assert v[f"registry:high_tech:{B}"]["verdict"] == "unverifiable"
    assert f"registry:high_tech:{C}" not in v
    assert set(claims.VERDICTS) >= {r["verdict"] for r in v.values()}


def test_no_facts_still_checks_the_registry(ws: Workspace, tmp_path: Path) -> None:
    load_tables(ws, tmp_path / "in", {"enterprises": [{"uscc": A, "name": "甲公司", "high_tech": True}]})
    table = claims.build(ws)
    rows = ws.engine.query(f"SELECT claim_id, verdict FROM {table}").to_pylist()
    assert rows == [{"claim_id": f"registry:high_tech:{A}", "verdict": "unverifiable"}]
