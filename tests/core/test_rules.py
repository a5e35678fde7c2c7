"""One definition per business rule: what counts as a sale, which enterprise a mention links to, how SQL
text is quoted — each written once and read by every stage."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO, load_tables, make_uscc

from chainlight import rules
from chainlight.engine.base import quote_identifier, sql_literal, sql_literals
from chainlight.workspace import Workspace

SRC = REPO / "src" / "chainlight"


def _sources(*suffixes: str) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in SRC.rglob("*") if p.suffix in suffixes}


def test_the_sales_rule_is_written_once() -> None:
    holders = [p.relative_to(SRC).as_posix() for p, text in _sources(".sql", ".py").items()
               if re.search(r"status\s+IN\s*\(\s*'normal'\s*,\s*'red'\s*\)", text, re.IGNORECASE)]
    assert holders == ["sql/sales.sql"]


def test_the_fallback_link_rule_is_written_once() -> None:
    holders = [p.relative_to(SRC).as_posix() for p, text in _sources(".sql", ".py").items()
               if re.search(r"buyer_uscc\s+(IS NOT NULL|IN\s*\()", text, re.IGNORECASE)]
    assert holders == ["sql/fallback_links.sql"]


def test_one_sql_quoting_helper() -> None:
    holders = [p.relative_to(SRC).as_posix() for p, text in _sources(".py").items()
               if """replace("'", "''")""" in text]
    assert holders == ["engine/base.py"]
    assert sql_literal("O'Brien") == "'O''Brien'" and sql_literals(["a", "b'"]) == "'a', 'b'''"


def test_fallback_links_keep_registry_buyers_and_unambiguous_holders(ws: Workspace, tmp_path: Path) -> None:
    known, twin_a, twin_b, stranger = (make_uscc(i) for i in (1, 2, 3, 4))
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": known, "name": "甲公司"}, {"uscc": twin_a, "name": "同名公司"},
                        {"uscc": twin_b, "name": "同名公司"}],
        "invoices": [
            {"invoice_id": "i1", "seller_uscc": twin_a, "buyer_name": "甲", "buyer_uscc": known, "amount": 10,
             "issue_date": "2024-01-01", "item_name": "x"},
            {"invoice_id": "i2", "seller_uscc": known, "buyer_name": "陌生", "buyer_uscc": stranger, "amount": 10,
             "issue_date": "2024-01-01", "item_name": "x"},
            {"invoice_id": "i3", "seller_uscc": known, "buyer_name": "无码", "amount": 10,
             "issue_date": "2024-01-01", "item_name": "x"}],
        "patents": [{"patent_id": "p1", "holder_name": "甲公司", "title": "t", "apply_date": "2020-01-01"},
                    {"patent_id": "p2", "holder_name": "同名公司", "title": "t", "apply_date": "2020-01-01"}]})
    view = rules.links_view(ws)
    assert view != "entity_links"
    links = ws.engine.query(f"SELECT mention_id, uscc FROM {view} ORDER BY 1").to_pylist()
    # a valid code of a firm not in the registry links nowhere; a shared registered name is ambiguous
    assert links == [{"mention_id": "invoice:i1", "uscc": known}, {"mention_id": "patent:p1", "uscc": known}]


def test_sales_are_normal_and_red_invoices(ws: Workspace, tmp_path: Path) -> None:
    seller = make_uscc(1)
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": seller, "name": "甲公司"}],
        "invoices": [{"invoice_id": f"i{n}", "seller_uscc": seller, "buyer_name": "乙", "amount": amount,
                      "issue_date": "2024-01-01", "item_name": "x", "status": status}
                     for n, (status, amount) in enumerate([("normal", 100), ("red", -40), ("voided", 1000)])]})
    view = rules.sales_view(ws)
    assert ws.engine.scalar(f"SELECT sum(amount) FROM {view}") == 60


def test_one_identifier_quoting_helper() -> None:
    holders = [p.relative_to(SRC).as_posix() for p, text in _sources(".py").items()
               if """replace('"', '""')""" in text]
    assert holders == ["engine/base.py"]
    assert quote_identifier('a"b') == '"a""b"'
