"""``build_from_chain_kg``: a hand-made chain_kg folder checked by eye, then the real data (skipped when absent)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import require_shared, write_jsonl, write_shenwan

from chainlight.errors import InputError
from chainlight.ontology.build import BuildSummary, break_cycles, build_from_chain_kg, build_ontology, clean_name
from chainlight.ontology.model import Ontology, load_file, normalise_term
from chainlight.ontology.validate import problems

INDUSTRIES = {"110000": "农林牧渔", "110100": "种植业", "110101": "种子", "110102": "粮食种植",
              "220000": "基础化工", "220100": "化学原料", "220101": "纯碱", "220200": "化学制品", "220201": "农药",
              "330000": "家用电器", "330100": "白色家电", "330101": "空调Ⅲ", "440000": "综合"}


@pytest.fixture
def mini_kg(tmp_path: Path) -> Path:
    """3 chains with level-3 children (综合 has none), one industry cycle, every kind of noise the real data has."""
    kg = tmp_path / "kg"
    kg.mkdir()
    write_shenwan(kg, INDUSTRIES)
    write_jsonl(kg, "industry_up.jsonl", [
        {"industry": "粮食种植", "ups": {"种子": 3, "农药": 1, "其他建材Ⅲ": 2}},
        {"industry": "种子", "ups": {"粮食种植": 1}},  # closes a cycle with 种子 → 粮食种植
        {"industry": "农药", "ups": {"纯碱": 2}},
        {"industry": "纯碱", "ups": {}}])
    write_jsonl(kg, "company_industry.jsonl", [
        {"company_code": "A.SZ", "industry_code": "110101", "industry_name": "种子", "company_name": "甲"},
        {"company_code": "B.SZ", "industry_code": "119999", "industry_name": "粮食种植", "company_name": "乙"},  # old code
        {"company_code": "C.SH", "industry_code": "220201", "industry_name": "农药", "company_name": "丙"},
        {"company_code": "D.SH", "industry_code": "220101", "industry_name": "纯碱", "company_name": "丁"},
        {"company_code": "F.SH", "industry_code": "330101", "industry_name": "空调Ⅲ", "company_name": "戊"},
        {"company_code": "G.SH", "industry_code": "999999", "industry_name": "不存在", "company_name": "己"}])
    write_jsonl(kg, "company_product.jsonl", [
        {"company_code": "A.SZ", "product_name": "杂交\n水稻种子", "rel_weight": 0.6, "company_name": "甲"},
        {"company_code": "A.SZ", "product_name": "玉米种子", "rel_weight": 0.5, "company_name": "甲"},
        {"company_code": "A.SZ", "product_name": "玉米种子", "rel_weight": 0.3, "company_name": "甲"},  # repeated pair
        {"company_code": "A.SZ", "product_name": "平衡项目", "rel_weight": -0.2, "company_name": "甲"},  # negative
        {"company_code": "A.SZ", "product_name": "其他", "rel_weight": 0.1, "company_name": "甲"},
        {"company_code": "B.SZ", "product_name": "大米", "rel_weight": 1.7, "company_name": None},  # over 1, no name
        {"company_code": "B.SZ", "product_name": " 玉米种子", "rel_weight": 0.2, "company_name": None},
        {"company_code": "B.SZ", "product_name": "其他", "rel_weight": 0.1, "company_name": None},
        {"company_code": "B.SZ", "product_name": "  \n", "rel_weight": 0.3, "company_name": None},  # empty name
        {"company_code": "C.SH", "product_name": "草甘膦", "rel_weight": 0.9, "company_name": "丙"},
        {"company_code": "C.SH", "product_name": "其他", "rel_weight": 0.1, "company_name": "丙"},
        {"company_code": "D.SH", "product_name": "纯碱", "rel_weight": 0.8, "company_name": "丁"},
        {"company_code": "D.SH", "product_name": "其他", "rel_weight": 0.1, "company_name": "丁"},
        {"company_code": "F.SH", "product_name": "家用空调", "rel_weight": 1.0, "company_name": "戊"},
        {"company_code": "F.SH", "product_name": "其他", "rel_weight": 0.1, "company_name": "戊"},
        {"company_code": "G.SH", "product_name": "神秘产品", "rel_weight": 1.0, "company_name": "己"},  # unlabelled
        {"company_code": "Z.SZ", "product_name": "孤儿产品", "rel_weight": 1.0, "company_name": None}])
    write_jsonl(kg, "product_product.jsonl", [
        {"from_entity": "大米", "rel": "上游材料", "to_entity": "水稻"},
        {"from_entity": "大米", "rel": "上游材料", "to_entity": "水稻"},  # repeated
        {"from_entity": "大米", "rel": "上游材料", "to_entity": "大米"},  # self-loop
        {"from_entity": "种子", "rel": "产品小类", "to_entity": "杂交水稻种子"},
        {"from_entity": "纯碱", "rel": "下游产品", "to_entity": "玻璃"},
        {"from_entity": "草甘膦\n", "rel": "上游材料", "to_entity": "甘氨酸"},
        {"from_entity": "x", "rel": "未知关系", "to_entity": "y"}])
    return kg


def _products(ontology: Ontology) -> dict[str, dict[str, float | None]]:
    return {s.id: {p.name: p.weight for p in s.products} for s in ontology.segments().values()}


def test_mini_build_by_eye(mini_kg: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "kg.yaml"
    summary = build_from_chain_kg(mini_kg, out)
    assert isinstance(summary, BuildSummary)
    assert (summary.chains, summary.segments, summary.cycles_broken, summary.edges_unknown_industry) == (3, 5, 1, 1)
    assert (summary.generic_terms_dropped, summary.company_product_rows_dropped, summary.product_edges) == (1, 2, 4)
    ontology = load_file(out)
    assert problems(ontology) == []
    assert [c.id for c in ontology.chains] == ["sw110000", "sw220000", "sw330000"]  # 综合 has no level-3 industry
    chem = ontology.chains[1]
    assert chem.tiers == ["化学原料", "化学制品"]  # 纯碱 feeds 农药: its tier comes first
    assert [(s.id, s.tier, s.industry_codes) for s in chem.segments] == [
        ("sw220000.220101", "化学原料", ["220101"]), ("sw220000.220201", "化学制品", ["220201"])]
    assert ontology.chains[2].segments[0].scope_terms == ["空调"]  # level suffix dropped
    # 其他 is spread over three chains: generic, dropped. 玉米种子 goes to 种子, its largest score (0.5 vs 0.2).
    assert _products(ontology) == {
        "sw110000.110101": {"杂交水稻种子": 0.5, "玉米种子": 0.4167},
        "sw110000.110102": {"大米": 0.7692},  # clipped to 1 of 1 + 0.2 + 0.1
        "sw220000.220101": {"纯碱": 0.8889}, "sw220000.220201": {"草甘膦": 0.9}, "sw330000.330101": {"家用空调": 0.9091}}
    edges = {(e.source, e.target): e.weight for e in ontology.edges()}
    assert edges == {("sw220000.220101", "sw220000.220201"): 1.0,
                     ("sw110000.110102", "sw110000.110101"): 1.0,  # 1/1 beats 3/4: the weaker 种子 → 粮食种植 is dropped
                     ("sw220000.220201", "sw110000.110102"): 0.25}
    assert {e.target for e in ontology.chains[0].edges} == {"sw110000.110101", "sw110000.110102"}  # in the target's chain
    with ontology.product_edges_path().open(encoding="utf-8") as handle:  # type: ignore[union-attr]
        assert list(csv.DictReader(handle)) == [
            {"source": "水稻", "target": "大米", "relation": "upstream_of"},
            {"source": "甘氨酸", "target": "草甘膦", "relation": "upstream_of"},
            {"source": "种子", "target": "杂交水稻种子", "relation": "subcategory"},
            {"source": "纯碱", "target": "玻璃", "relation": "upstream_of"}]


def test_mini_build_is_deterministic(mini_kg: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "kg.yaml", tmp_path / "b" / "kg.yaml"
    build_from_chain_kg(mini_kg, first)
    build_from_chain_kg(mini_kg, second)
    assert first.read_bytes() == second.read_bytes()
    assert (first.parent / "kg.product_edges.csv").read_bytes() == (second.parent / "kg.product_edges.csv").read_bytes()


def test_bad_input_names_file_and_row(mini_kg: Path, tmp_path: Path) -> None:
    products = mini_kg / "company_product.jsonl"
    good = products.read_text(encoding="utf-8")
    products.write_text(good + "{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"company_product\.jsonl, row 18: not valid JSON"):
        build_from_chain_kg(mini_kg, tmp_path / "kg.yaml")
    products.write_text(good + '{"product_name": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"company_product\.jsonl, row 18, field 'company_code': missing field"):
        build_from_chain_kg(mini_kg, tmp_path / "kg.yaml")
    products.write_text(good, encoding="utf-8")
    (mini_kg / "industry_up.jsonl").unlink()
    with pytest.raises(InputError, match=r"industry_up\.jsonl: cannot read"):
        build_from_chain_kg(mini_kg, tmp_path / "kg.yaml")
    with pytest.raises(InputError, match="not a folder"):
        build_from_chain_kg(tmp_path / "absent", tmp_path / "kg.yaml")


def test_break_cycles_drops_the_weakest_edge_of_each_cycle() -> None:
    weights = {("a", "b"): 0.9, ("b", "c"): 0.8, ("c", "a"): 0.3, ("c", "d"): 0.5, ("d", "c"): 0.6, ("a", "d"): 0.1}
    kept, dropped = break_cycles(weights)
    assert dropped == 2
    assert set(weights) - set(kept) == {("c", "a"), ("c", "d")}
    assert kept == sorted(kept)


def test_clean_name() -> None:
    assert clean_name("合成维生素\nE系列") == "合成维生素E系列"
    assert clean_name(" CDMA手机业务\n宽带运营 ") == "CDMA手机业务宽带运营"
    assert clean_name("Wi-Fi  6\nmodule") == "Wi-Fi 6 module"
    assert clean_name("  \n") == clean_name("123.5") == clean_name(None) == clean_name("很" * 41) == ""


@pytest.fixture(scope="module")
def real_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, BuildSummary]:
    kg = require_shared("chain_kg")
    out = tmp_path_factory.mktemp("real_kg") / "chain_kg.yaml"
    return kg, out, build_from_chain_kg(kg, out)


def test_real_build_matches_the_data(real_build: tuple[Path, Path, BuildSummary]) -> None:
    kg, out, summary = real_build
    codes = [json.loads(line)["code"] for line in (kg / "industry.jsonl").open(encoding="utf-8")]
    level3 = [c for c in codes if not c.endswith("00")]
    chains_expected = {c[:2] for c in level3}
    ontology = load_file(out)
    assert problems(ontology) == []
    assert summary.chains == len(ontology.chains) == len(chains_expected)
    assert summary.segments == len(ontology.segments()) == len(level3)
    assert {s.industry_codes[0] for s in ontology.segments().values()} == set(level3)
    assert summary.products == sum(len(s.products) for s in ontology.segments().values()) > 10 * summary.segments
    assert summary.segment_edges == len(ontology.edges()) > 0 and summary.cycles_broken > 0
    terms = Counter(normalise_term(p.name) for s in ontology.segments().values() for p in s.products)
    assert terms.most_common(1)[0][1] == 1
    relations = Counter(ontology.product_edges()["relation"].to_pylist())
    assert set(relations) == {"upstream_of", "subcategory"} and sum(relations.values()) == summary.product_edges


def test_real_build_round_trips(real_build: tuple[Path, Path, BuildSummary]) -> None:
    kg, out, _ = real_build
    built, _, _ = build_ontology(kg)
    loaded = load_file(out)
    assert loaded.product_edges_path() == out.with_name(f"{out.stem}.product_edges.csv")
    assert loaded.model_dump(exclude={"product_edges_file"}) == built.model_dump(exclude={"product_edges_file"})
