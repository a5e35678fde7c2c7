"""Invoice line items as written: parsing, non-product lines, and reading names no lexicon holds."""

from __future__ import annotations

import pytest

from chainlight.ontology.items import ItemReader, parse_line_item
from chainlight.ontology.model import load_default
from chainlight.ontology.signals import SegmentLexicon, SegmentTextModel

PLASTICS_CODE = "1070213".ljust(19, "0")  # automotive.engineering_plastics in the default ontology
HELD_OUT = "QX-77增强料"  # a trade-name-like term in no lexicon


@pytest.fixture(scope="module")
def reader() -> ItemReader:
    ontology = load_default()
    return ItemReader(SegmentLexicon(ontology), SegmentTextModel(ontology, seed=0))


@pytest.mark.parametrize(("text", "short", "name"), [
    ("*合成树脂*PA66-GF30 25kg/袋 吨", "合成树脂", "PA66-GF30"),
    ("改性PP（定制）", "", "改性PP"),
    ("*钢材*  螺纹钢 一级品", "钢材", "螺纹钢"),
    ("", "", ""),
    ("*运输服务*", "运输服务", ""),
])
def test_parse_line_item(text: str, short: str, name: str) -> None:
    item = parse_line_item(text)
    assert (item.short, item.name) == (short, name)
    assert text[item.start:item.start + len(name)] == name or not name


def test_held_out_term_is_read_from_its_tax_code(reader: ItemReader) -> None:
    assert not reader.lexicon.product_hits(HELD_OUT)
    [reading] = reader.read_items([(f"*合成树脂*{HELD_OUT} 25kg/袋 吨", PLASTICS_CODE)])
    assert max(reading.distribution, key=reading.distribution.__getitem__) == "automotive.engineering_plastics"
    assert reading.span == HELD_OUT


@pytest.mark.parametrize(("text", "code"), [
    ("*运输服务*运费", "3010101"), ("*运输服务*国内道路货物运输服务", "3010101"), ("*物流辅助服务*装卸费", "3040401"),
    ("*木制品*木托盘", "1050201"), ("*纸制品*纸箱包装", "1050301"), ("*现代服务*返利", "3040201"),
    ("*塑料制品*缠绕膜 卷", "1070215"), ("技术服务费", ""),
])
def test_non_product_lines_give_no_evidence(reader: ItemReader, text: str, code: str) -> None:
    [reading] = reader.read_items([(text, code.ljust(19, "0") if code else "")], [("S", 0, 1000.0)])
    assert reading.distribution == {} and reading.how == "non_product"


def test_a_segment_tax_code_is_product_even_for_a_service(reader: ItemReader) -> None:
    code = reader.lexicon.tax.copy()
    service = next(c for c, segments in code.items() if "equipment.services" in segments)
    [reading] = reader.read_items([("*现代服务*设备维保服务", service)])
    assert reading.distribution and "equipment.services" in reading.distribution


def test_names_are_learned_from_items_and_sellers(reader: ItemReader) -> None:
    items = [(f"*合成树脂*{HELD_OUT} 吨", PLASTICS_CODE),  # read by its code: HELD_OUT is learned
             (f"{HELD_OUT} 优等品", ""),  # no code: read by the learned name
             ("ZQ-3粒子", ""),  # no code, no known name: read by its seller's other goods
             ("耐高温尼龙", "")]
    sales = [("S1", 0, 5000.0), ("S2", 1, 100.0), ("S3", 2, 100.0), ("S3", 3, 900.0)]
    readings = reader.read_items(items, sales)
    assert readings[1].how.startswith("learned")
    assert max(readings[1].distribution, key=readings[1].distribution.__getitem__) == "automotive.engineering_plastics"
    assert "sellers" in readings[2].how
    assert max(readings[2].distribution, key=readings[2].distribution.__getitem__) == "automotive.engineering_plastics"
    [product] = reader.read_products([f"高品质{HELD_OUT}"], [None])
    assert product.how == "learned" and "automotive.engineering_plastics" in product.distribution


def test_a_product_listing_leans_on_its_firm(reader: ItemReader) -> None:
    profile = {"new_energy.lithium": 1.0}
    [alone, with_firm] = reader.read_products(["MX-9型号", "MX-9型号"], [None, profile])
    assert max(with_firm.distribution, key=with_firm.distribution.__getitem__) == "new_energy.lithium"
    assert with_firm.how == "model+sellers" and alone.how == "model"
