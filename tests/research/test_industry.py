"""``research.industry``: Shenwan labels from products and names — a hand-made chain_kg, then the real data."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, require_shared, write_jsonl, write_shenwan

from chainlight.errors import InputError
from chainlight.research.industry import (
    ChainKG,
    Company,
    IndustryClassifier,
    cross_validate,
    label_unlabelled,
    out_of_fold_top,
    stock_code,
    write_labels,
)

INDUSTRIES = {"110000": "农林牧渔", "110100": "种植业", "110101": "种子", "110102": "粮食种植",
              "220000": "基础化工", "220100": "化学原料", "220101": "纯碱", "220200": "化学制品", "220201": "农药",
              "340000": "食品饮料", "340100": "饮料乳品", "340101": "白酒Ⅲ", "340102": "啤酒"}
PRODUCTS = {  # level-3 code -> product names its companies make
    "110101": ["玉米种子", "水稻种子", "杂交种子", "蔬菜种子"],
    "110102": ["小麦", "稻谷", "粮食", "大米"],
    "220101": ["纯碱", "重质纯碱", "轻质纯碱", "氯化铵"],
    "220201": ["杀虫剂", "除草剂", "杀菌剂", "草甘膦"],
    "340101": ["高端白酒", "浓香型白酒", "酱香型白酒", "系列酒"],
    "340102": ["啤酒", "精酿啤酒", "纯生啤酒", "麦芽"],
}


@pytest.fixture
def mini_kg(tmp_path: Path) -> Path:
    """Six level-3 industries with five labelled companies each, plus unlabelled and odd companies."""
    kg = tmp_path / "kg"
    kg.mkdir()
    write_shenwan(kg, INDUSTRIES)
    rng = random.Random(3)
    companies, labels, products = [], [], []
    number = 600000
    for industry, names in PRODUCTS.items():
        for i in range(6):
            number += 1
            code = f"{number}"
            short = "".join(rng.sample("恒瑞泰康华新明达宏远盛安", 2))  # names say nothing of the industry
            companies.append({"name": short, "fullname": f"{short}股份有限公司", "code": code, "location": "上海证券交易所"})
            for rank, product in enumerate(rng.sample(names, 3)):
                products.append({"company_code": f"{code}.SH", "product_name": product, "rel_weight": 0.6 / (rank + 1)})
            if i < 5:  # the sixth company of each industry is unlabelled
                labels.append({"company_code": f"{code}.SH", "industry_code": industry,
                               "industry_name": INDUSTRIES[industry], "company_name": short})
    # a renamed company listed twice, once with an unrelated company's full name; products in odd shapes
    companies.append({"name": "新酒业", "fullname": "新酒业股份有限公司", "code": "000999", "location": "深圳证券交易所"})
    companies.append({"name": "新酒业", "fullname": "中国铁建股份有限公司", "code": "000999", "location": "深圳证券交易所"})
    products += [{"company_code": "000999.sz", "product_name": "白酒\n系列", "rel_weight": -0.2},
                 {"company_code": "000999.SZ", "product_name": "浓香型白酒", "rel_weight": 1.7},
                 {"company_code": "000999.SZ", "product_name": "浓香型白酒", "rel_weight": 0.3},
                 {"company_code": "000999.SZ", "product_name": "   ", "rel_weight": 0.5}]
    # a company with no products at all, and one only in the product file
    companies.append({"name": "种业新秀", "fullname": "种业新秀科技股份有限公司", "code": "300888", "location": "深圳证券交易所"})
    companies.append({"name": "绿盾股份", "fullname": "江苏省绿盾除草剂股份有限公司", "code": "300889",
                      "location": "深圳证券交易所"})
    products.append({"company_code": "688001.SH", "product_name": "除草剂", "rel_weight": 1.0, "company_name": "农化一号"})
    write_jsonl(kg, "company.jsonl", companies)
    write_jsonl(kg, "company_industry.jsonl", labels)
    write_jsonl(kg, "company_product.jsonl", products)
    return kg


def test_stock_codes() -> None:
    assert stock_code("600373", "上海证券交易所") == "600373.SH"
    assert stock_code("000001", "深圳证券交易所") == "000001.SZ"
    assert stock_code("300957.sz") == "300957.SZ"
    assert stock_code("300054", "2010-02-11") == "300054.SZ"  # a shifted record: guessed from the code
    assert stock_code("688001") == "688001.SH"
    assert stock_code("830799") == "830799.BJ"


def test_load_merges_names_and_cleans_products(mini_kg: Path) -> None:
    kg = ChainKG.load(mini_kg)
    renamed = kg.companies["000999.SZ"]
    assert renamed.short_name == "新酒业"
    assert renamed.full_name == "新酒业股份有限公司"  # the unrelated 中国铁建 full name is dropped
    # lower-case code joined, newline inside CJK removed, negative share floored, repeated pair keeps its largest
    # share clipped to 1, blank product dropped; largest share first
    assert renamed.products == (("浓香型白酒", 1.0), ("白酒系列", 0.01))
    assert kg.companies["300888.SZ"].products == ()
    assert kg.companies["688001.SH"].short_name == "农化一号"
    assert len(kg.labels) == 30
    assert {c.code for c in kg.unlabelled()} == {f"{600000 + 6 * i}.SH" for i in range(1, 7)} | {
        "000999.SZ", "300888.SZ", "300889.SZ", "688001.SH"}


def test_missing_file_is_a_clear_error(mini_kg: Path) -> None:
    (mini_kg / "company_product.jsonl").unlink()
    with pytest.raises(InputError, match="missing chain_kg file"):
        ChainKG.load(mini_kg)
    with pytest.raises(InputError, match="not valid JSON"):
        (mini_kg / "company_product.jsonl").write_text("{broken\n", encoding="utf-8")
        ChainKG.load(mini_kg)


def test_labels_the_unlabelled_from_products(mini_kg: Path, tmp_path: Path) -> None:
    kg = ChainKG.load(mini_kg)
    rows = dict(label_unlabelled(kg))
    for i, industry in enumerate(PRODUCTS, start=1):
        assert rows[f"{600000 + 6 * i}.SH"][0] == industry
    assert rows["000999.SZ"][0] == "340101"  # 浓香型白酒
    assert rows["688001.SH"][0] == "220201"  # 除草剂
    assert rows["300888.SZ"][0] in PRODUCTS  # names only: some level-3 industry
    assert rows["300889.SZ"][0] == "220201"  # no products, but its registered name says 除草剂
    assert all(len(top) == 3 and len(set(top)) == 3 for top in rows.values())
    out = tmp_path / "labels.csv"
    write_labels(sorted(rows.items()), out)
    with out.open(encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert list(written[0]) == ["company_code", "top1_industry_code", "top3_industry_codes"]
    assert len(written) == 10 and not {r["company_code"] for r in written} & set(kg.labels)
    assert all(r["top3_industry_codes"].split("|")[0] == r["top1_industry_code"] for r in written)


def test_cross_validation_never_sees_the_company_own_label(mini_kg: Path) -> None:
    """A company alone in its industry, with products that name it, can only be labelled with it if its
    own label leaks into the model that scores it."""
    kg = ChainKG.load(mini_kg)
    loner = Company("900001.SH", "孤品", "孤品股份有限公司", (("粮食种植服务", 1.0),))
    kg.companies[loner.code] = loner
    kg.labels = {code: label for code, label in kg.labels.items() if label != "110102"} | {loner.code: "110102"}
    companies = kg.labelled_companies()[0]
    for seed in range(3):
        tops = out_of_fold_top(kg, companies, folds=5, seed=seed)
        assert "110102" not in tops[companies.index(loner)]
        assert sum(top[0] == kg.labels[c.code] for top, c in zip(tops, companies, strict=True)) >= 24
    # trained with its label, the same company is labelled with it: the test above can fail
    assert IndustryClassifier(kg.industries).fit(companies, [kg.labels[c.code] for c in companies]).top([loner])[0][0] == "110102"


def test_products_beat_names_and_hierarchy_holds(mini_kg: Path) -> None:
    kg = ChainKG.load(mini_kg)
    with_products = cross_validate(kg, folds=5)
    names_only = cross_validate(kg, folds=5, use_products=False)
    assert with_products["with_products"].top1_level3 == 1.0
    assert with_products["all"].top1_level3 > names_only["all"].top1_level3
    for result in (with_products, names_only):  # top-3 contains top-1; level 1 is coarser than level 3
        for accuracy in result.values():
            if accuracy.companies:
                assert accuracy.top1_level3 <= accuracy.top3_level3 and accuracy.top1_level3 <= accuracy.top1_level1


def test_bench_reports_a_broken_folder_in_one_line(mini_kg: Path, tmp_path: Path) -> None:
    (mini_kg / "company_product.jsonl").write_text(
        '{"company_code": "600001.SH", "product_name": "纯碱", "rel_weight": 1}\n{broken\n', encoding="utf-8")
    out = tmp_path / "labels.csv"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "real_chain_kg.py"), "--data", str(mini_kg), "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 1 and not out.exists()
    assert done.stderr.strip().splitlines() == [f"error: {mini_kg / 'company_product.jsonl'}, row 2: not valid JSON: "
                                                "Expecting property name enclosed in double quotes"]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="as many labels"):
        IndustryClassifier.__new__(IndustryClassifier).fit([], [])


def test_real_chain_kg_sample() -> None:
    """A 1,200-company sample of the real data: products and names beat names alone, at every level."""
    kg = ChainKG.load(require_shared("chain_kg"))
    companies, _ = kg.labelled_companies()
    sample = random.Random(0).sample(companies, 1200)
    full = cross_validate(kg, folds=3, companies=sample)
    names = cross_validate(kg, folds=3, companies=sample, use_products=False)
    assert full["all"].companies == 1200
    assert full["with_products"].top1_level3 >= 0.35 and full["with_products"].top1_level1 >= 0.6
    assert full["all"].top1_level3 >= names["all"].top1_level3 + 0.1
    assert full["all"].top1_level1 >= names["all"].top1_level1 + 0.1
    rows = label_unlabelled(kg)
    assert len(rows) == len(kg.unlabelled()) > 1000
    assert all(top[0] in kg.industries.level3 for _, top in rows)


def test_the_seed_fixes_the_model_whatever_the_global_random_state(mini_kg: Path) -> None:
    kg = ChainKG.load(mini_kg)
    companies, labels = kg.labelled_companies()
    scores = []
    for state in (0, 1):
        np.random.seed(state)
        random.seed(state)
        scores.append(IndustryClassifier(kg.industries, seed=3).fit(companies, labels).scores(companies))
    assert np.array_equal(scores[0], scores[1])
    assert IndustryClassifier(kg.industries).seed == 0  # the default is a fixed seed, not the global state
