"""Mounting on hand-built tables small enough to check by eye, plus the story firm."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_tables, make_uscc, require_shared

from chainlight import mount
from chainlight.config import Config
from chainlight.ontology.build import build_from_chain_kg
from chainlight.ontology.model import load_file
from chainlight.synth import STORY_FIRM_NAME
from chainlight.workspace import Workspace

NYLON, STEEL, PHARMA, VAGUE, QUIET, NOTHING, BUYER = (make_uscc(i) for i in range(1, 8))


def invoice(n: int, seller: str, item: str, amount: float, status: str = "normal", tax: str = "") -> dict:
    return {"invoice_id": f"I{n}", "seller_uscc": seller, "buyer_name": "某某汽车部件有限公司", "buyer_uscc": BUYER,
            "item_name": item, "tax_code": tax, "amount": amount, "issue_date": "2024-05-01", "status": status}


@pytest.fixture
def mounted(ws: Workspace, tmp_path: Path) -> dict[str, list[dict]]:
    load_tables(ws, tmp_path / "in", {
        "enterprises": [
            {"uscc": NYLON, "name": "嘉兴甲新材料有限公司", "scope": "通用机械设备制造、销售", "industry_code": "3499"},
            {"uscc": STEEL, "name": "乙钢铁有限公司", "scope": "钢材轧制", "industry_code": "3130"},
            {"uscc": PHARMA, "name": "丙化工有限公司", "scope": "化工产品", "industry_code": "2651"},
            {"uscc": VAGUE, "name": "丁机械有限公司", "scope": "机械设备制造", "industry_code": "3499"},
            {"uscc": QUIET, "name": "戊塑胶有限公司", "scope": "工程塑料、改性塑料", "industry_code": "2651"},
            {"uscc": NOTHING, "name": "己贸易有限公司", "scope": "", "industry_code": ""},
            {"uscc": BUYER, "name": "某某汽车部件有限公司", "scope": "汽车零部件", "industry_code": "3670"}],
        "invoices": [
            invoice(1, NYLON, "耐高温尼龙 PA6T", 900_000), invoice(2, NYLON, "冷轧钢板", 10_000),
            invoice(3, NYLON, "阿莫西林原料药", 5_000_000, status="voided"),
            invoice(4, STEEL, "冷轧汽车板", 500_000), invoice(5, STEEL, "齿轮钢", 500_000),
            invoice(6, PHARMA, "聚乙烯 PE", 600_000), invoice(7, PHARMA, "医药中间体", 400_000),
            invoice(8, VAGUE, "材料一批", 10_000)],
    })
    mount.run(ws, Config())
    rows = ws.engine.query("SELECT uscc, segment_id, share, confidence, rank FROM mounts ORDER BY uscc, rank").to_pylist()
    by_firm: dict[str, list[dict]] = {}
    for row in rows:
        by_firm.setdefault(row["uscc"], []).append(row)
    return by_firm


def test_line_items_beat_the_registry(mounted: dict) -> None:
    assert mounted[NYLON][0]["segment_id"] == "automotive.engineering_plastics"


def test_amount_weighting_and_voided_invoices_ignored(mounted: dict) -> None:
    segments = [m["segment_id"] for m in mounted[NYLON]]
    assert "medical.api" not in segments  # only on a voided invoice
    assert mounted[NYLON][0]["share"] > 0.7


def test_two_businesses_get_two_mounts(mounted: dict) -> None:
    segments = {m["segment_id"]: m["share"] for m in mounted[PHARMA]}
    assert set(segments) == {"chemicals.resins", "chemicals.fine_chemicals"}
    assert segments["chemicals.resins"] > segments["chemicals.fine_chemicals"]
    assert abs(sum(segments.values()) - 1.0) < 1e-9


def test_registry_only_firm_is_mounted_with_low_confidence(mounted: dict) -> None:
    [quiet] = [m for m in mounted[QUIET] if m["rank"] == 1]
    assert quiet["segment_id"] == "automotive.engineering_plastics"
    assert quiet["confidence"] < 0.5 < mounted[STEEL][0]["confidence"]


def test_firm_without_evidence_is_not_mounted(mounted: dict) -> None:
    assert NOTHING not in mounted


def test_evidence_names_the_items(ws: Workspace, mounted: dict) -> None:
    evidence = ws.engine.query("SELECT signal, detail FROM mount_evidence WHERE uscc = $u AND segment_id = $s",
                               {"u": NYLON, "s": "automotive.engineering_plastics"}).to_pylist()
    assert {"signal": "invoice_item", "detail": "耐高温尼龙 PA6T"} in evidence


def test_registry_only_baseline_is_fooled(ws: Workspace, mounted: dict) -> None:
    baseline = ws.engine.query("SELECT segment_id FROM mounts_registry_only WHERE uscc = $u AND rank = 1",
                               {"u": NYLON}).column(0).to_pylist()
    assert baseline != ["automotive.engineering_plastics"]


def test_rerun_is_deterministic(ws: Workspace, mounted: dict) -> None:
    before = ws.engine.query("SELECT uscc, segment_id, share, confidence FROM mounts ORDER BY 1, 2").to_pylist()
    mount.run(ws, Config())
    assert ws.engine.query("SELECT uscc, segment_id, share, confidence FROM mounts ORDER BY 1, 2").to_pylist() == before


def test_works_with_another_ontology(ws: Workspace, tmp_path: Path) -> None:
    ontology = tmp_path / "tea.yaml"
    ontology.write_text("""
version: test-1
chains:
  - id: tea
    name: 茶叶
    tiers: [raw_material, retail_service]
    segments:
      - {id: tea.leaves, name: 茶青, tier: raw_material, products: [{name: 鲜叶, synonyms: [茶青]}],
         scope_terms: [茶叶种植], industry_codes: ["0164"], tax_codes: ["1010401"], ipc: [A23F3]}
      - {id: tea.shops, name: 茶饮, tier: retail_service, products: [{name: 奶茶, synonyms: [茶饮料]}],
         scope_terms: [饮品店], industry_codes: ["6231"], tax_codes: ["3070401"], ipc: []}
    edges: [{source: tea.leaves, target: tea.shops, weight: 0.3}]
""", encoding="utf-8")
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": NYLON, "name": "甲茶业有限公司", "scope": "饮品店"}],
        "invoices": [invoice(1, NYLON, "明前鲜叶", 50_000)]})
    mount.run(ws, Config(ontology=ontology))
    assert ws.engine.query("SELECT segment_id FROM mounts WHERE rank = 1").column(0).to_pylist() == ["tea.leaves"]


def test_works_with_the_ontology_built_from_real_data(ws: Workspace, tmp_path: Path) -> None:
    """Shenwan segments from ``chainlight ontology build --from chain_kg``: a firm selling one segment's products
    is mounted there, its minor line elsewhere a second mount at most."""
    built = tmp_path / "real.yaml"
    build_from_chain_kg(require_shared("chain_kg"), built)
    segments = sorted((s for s in load_file(built).segments().values() if len(s.products) >= 20), key=lambda s: s.id)
    main, minor = segments[0], segments[len(segments) // 2]
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": NYLON, "name": "甲实业有限公司", "scope": "", "industry_code": ""}],
        "invoices": [invoice(1, NYLON, main.products[0].name, 700_000), invoice(2, NYLON, main.products[1].name, 200_000),
                     invoice(3, NYLON, minor.products[0].name, 100_000)]})
    mount.run(ws, Config(ontology=built))
    mounted = ws.engine.query("SELECT segment_id FROM mounts ORDER BY rank").column(0).to_pylist()
    assert mounted[0] == main.id and set(mounted) <= {main.id, minor.id}


def test_story_firm_is_mounted_on_nylon_with_evidence(tiny_workspace: Workspace) -> None:
    uscc = tiny_workspace.engine.scalar("SELECT uscc FROM enterprises WHERE name = $n", {"n": STORY_FIRM_NAME})
    top = tiny_workspace.engine.query("SELECT segment_id FROM mounts WHERE uscc = $u AND rank = 1", {"u": uscc})
    assert top.column(0).to_pylist() == ["automotive.engineering_plastics"]
    evidence = tiny_workspace.engine.query("SELECT signal, detail FROM mount_evidence WHERE uscc = $u",
                                           {"u": uscc}).to_pylist()
    items = [e["detail"] for e in evidence if e["signal"] == "invoice_item"]
    patents = [e["detail"] for e in evidence if e["signal"] == "patent"]
    assert any("尼龙" in i or "PA" in i or "聚酰胺" in i for i in items)
    assert any("尼龙" in p for p in patents)


def test_eval_on_the_tiny_economy(tiny_workspace: Workspace, tiny_economy: Path) -> None:
    from chainlight.eval.mount import evaluate
    figures = evaluate(tiny_workspace, tiny_economy / "truth")
    assert figures["accuracy"] >= 0.9 and figures["coverage"] >= 0.98
    assert figures["registry_only_accuracy"] < figures["accuracy"] - 0.2


def test_held_out_line_item_mounts_right_and_freight_says_nothing(ws: Workspace, tmp_path: Path) -> None:
    """Only a term no lexicon holds, written as an e-invoice prints it, plus bigger freight, pallet and
    rebate lines; the registry points elsewhere (steel)."""
    plastics, other = "1070213".ljust(19, "0"), make_uscc(9)
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": NYLON, "name": "嘉兴甲新材料有限公司", "scope": "钢材轧制", "industry_code": "3130"},
                        {"uscc": other, "name": "乙物流有限公司", "scope": "", "industry_code": ""}],
        "invoices": [invoice(1, NYLON, "*合成树脂*QX-77增强料 25kg/袋 吨", 300_000, tax=plastics),
                     invoice(2, NYLON, "*运输服务*运费", 400_000, tax="3010101".ljust(19, "0")),
                     invoice(3, NYLON, "*木制品*木托盘", 400_000, tax="1050201".ljust(19, "0")),
                     invoice(4, NYLON, "*现代服务*返利", 400_000, tax="3040201".ljust(19, "0")),
                     invoice(5, other, "*物流辅助服务*装卸费", 50_000, tax="3040401".ljust(19, "0"))]})
    mount.run(ws, Config())
    top = ws.engine.query("SELECT uscc, segment_id FROM mounts WHERE rank = 1 ORDER BY uscc").to_pylist()
    assert top == [{"uscc": NYLON, "segment_id": "automotive.engineering_plastics"}]  # `other` has no evidence
    details = ws.engine.query("SELECT detail FROM mount_evidence WHERE signal = 'invoice_item'").column(0).to_pylist()
    assert details == ["*合成树脂*QX-77增强料 25kg/袋 吨"]


def test_one_stray_line_does_not_outvote_registry_and_products(ws: Workspace, tmp_path: Path) -> None:
    """Invoice evidence earns its say with its mass: a robot maker whose registry and product listings agree
    and who sold one lot of steel sheet stays a robot maker; a firm billing steel month after month is
    mounted by its invoices whatever its registry says."""
    robots, trader = make_uscc(10), make_uscc(11)
    registry = {"scope": "智能装备；货物进出口", "industry_code": "3491"}
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": robots, "name": "济南甲智能装备股份有限公司", **registry},
                        {"uscc": trader, "name": "济南乙智能装备有限公司", **registry}],
        "products": [{"uscc": robots, "product_name": "六轴关节机器人", "description": ""},
                     {"uscc": trader, "product_name": "六轴关节机器人", "description": ""}],
        "invoices": [invoice(1, robots, "冷轧汽车板", 20_000)]
                    + [invoice(100 + k, trader, "冷轧汽车板", 20_000) for k in range(30)]})
    mount.run(ws, Config())
    top = {r["uscc"]: r["segment_id"] for r in ws.engine.query(
        "SELECT uscc, segment_id FROM mounts WHERE rank = 1").to_pylist()}
    assert top[robots] == "equipment.robots"
    assert top[trader].startswith("materials.") or top[trader].startswith("automotive."), top[trader]
    assert top[trader] != "equipment.robots"
