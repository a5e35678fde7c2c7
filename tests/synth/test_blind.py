"""The blind profile: deterministic, standard unchanged, held-out terms unknown to the stages, noisy and calibrated."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from pathlib import Path
from types import ModuleType

import duckdb
import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import load_script
from test_synth import digest  # tests/synth is on the path (pytest's rootdir-less "prepend" import mode)
from typer.testing import CliRunner

from chainlight import ingest, ontology
from chainlight.cli import app
from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.ontology.lexicon import lexicon_table
from chainlight.ontology.model import load_default, normalise_term
from chainlight.synth import SEEN_ONTOLOGY, generate, noise, vocab
from chainlight.synth.firms import STORY_ANCHOR_NAME
from chainlight.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]

# sha256 of each file of `generate(out, firms=300, seed=3, fmt="csv")` as main wrote it before the blind
# profile existed (truth Parquet compared as CSV, so a pyarrow upgrade's file metadata does not matter).
# Other stages' tests rely on the standard economy: a deliberate change to it must update these.
# Updated (branch health): health became a monthly path that shows in the invoices (fewer and smaller
# orders, lost customers, more voids in bad months) and drives default at each date; the truth gains
# outcomes.parquet (row PD and health) and firms.health_now; 40 invoices per firm instead of 20.
# Registry, aliases, patents and products are unchanged; invoices, reports (supply edges lost),
# bureau/outcomes/applications (new draws) change.
STANDARD_300_SEED3 = {
    "aliases.csv": "92cb7b39d53c194d329df52de9c3765a0397c711aac43b0ce0c0a217b5f2fed1",
    "applications.csv": "e57825c4fbf4f6b7a638990e211b73f4b6d9ec449ec0c60e5d70b37baa111274",
    "bureau.csv": "adb7f352a3498a6d1fe2c47253e840d3644cd41d33e514f36b879b204b803baf",
    "enterprises.csv": "9871095f39403c45b228463bcce171f112caeb9a2c75de5213688a9293dd4ed5",
    "invoices.csv": "cb7043e769644db0cf9c1fd7a495bd2068dac81643c2e6bca5fcbd43553cc01e",
    "outcomes.csv": "01dbc782e61a1fe60829823fe6647fec12c6956a20e45d3786a897802dddde1b",
    "patents.csv": "13f43323724f894568a796514b2cb5cfa9c320c9572bd97cac66d9110d99d3a8",
    "products.csv": "de910228eb561333d95dc5a5d0fb6e50a8d9fb75c144052fc9d3782cc838ed7d",
    "reports.csv": "b06d6918ce263627f782194f5842980d9714efb2915ecebe64b8fbcb7b322819",
    "truth/firm_segments.parquet": "6f713928d0f0341810d2e235a391cebb7ec2b90d75d82a5cb145d9b681aedfb5",
    "truth/firms.parquet": "5ffab9603a0608fbdcb83aef639f5de839bcd400279a8c46dac380489f00c18b",
    "truth/item_segments.parquet": "5d88f8df4850c71d2fc99ee88121debe1d064d8c7d3d75c0d716fcb5e2b2e68b",
    "truth/mentions.parquet": "2691649a6b63c537fb11a3928ea1fc47ea4aef1f99cb517a636479e3bfbd7154",
    "truth/outcomes.parquet": "4ed6e4ff0a52bd11a553cde3dabcfa0e0b3c4b26dbe5a4ba95d815c86d78a082",
    "truth/product_segments.parquet": "5a98890b654644890cc0ca9a49cbf2a232a7fc6c1eb57ff07b5a228a18fc14c7",
    "truth/report_facts.parquet": "eccc950ac317f64dd21c087d2cd87188aa8193adfef52a785bc76f7ab3c41faf",
    "truth/segment_trends.parquet": "c6a2ee783e0d96500a934c90107c47a1f5a0fa97a58cb41bad95aefa065d5f74",
    "truth/supply_edges.parquet": "732d90603123a22c4e71cab0a20cc75bece19ad6b8fe5732d623cc12035022f7",
}


# content sha256 (truth Parquet as CSV) of `generate(out, firms=300, seed=3, fmt="csv", profile="blind")` as main
# wrote it at 3d8e1e4, before the generator streamed: streaming must not change the blind economy either.
BLIND_300_SEED3 = {
    "aliases.csv": "7891de4e5209e04f89acb95e3f4dffcde7d0783c5e7f3cec84fcaf10f80a13af",
    "applications.csv": "a21254398e514134b78d595db3ad4de084b69e23206deb7d3ea4535450197c61",
    "bureau.csv": "c7f1522112ef850e1275330e02582421f73b67b2d9d6da1286b088cdb1b67114",
    "enterprises.csv": "0aba701978ddff47b59dcb249ded3141c3009e385b67cad90921b2e016136eb7",
    "invoices.csv": "130130f983be9d0e532cb3ee75ce971d9aca1f153d99cfe2919d12eaf62c2919",
    "ontology.yaml": "07079f4daf7ae2f1158932ee0ad5deed5a0a720e49ae1d829618ba7488df7e08",
    "outcomes.csv": "13096696e9d683a9fe4e787b3ce281d44c7d3cca7aec393a402e336946550ae5",
    "patents.csv": "c2949361a3b3ced3c9957bc607cb8e2b9497f45455624fa627d19650da5b6c5b",
    "products.csv": "8e451d6bee0c085c07874ea6d8090984cf74795e632d896b21a66ed6e309e778",
    "reports.csv": "be7a3b5f277b7fc28582207c8302f1a4899235e6bd950ca42a735e85fad28949",
    "truth/firm_segments.parquet": "2d1f14595306007737c9786e20edb3b68d80b5de31f1f92688aefcbf1235eff5",
    "truth/firms.parquet": "e90355c2f316cbe988a22bdb2bb92f064436031b3e3365ebd2ce96cdaf501fac",
    "truth/item_segments.parquet": "2cc34fa9983e8205fb2a2b2c4348c1f355d6f8532c64bf2d97f7d5d190e8952b",
    "truth/mentions.parquet": "49b64ed7f60fea6152bd988c05f31717f6370676f299049e73161febe90c4ea4",
    "truth/outcomes.parquet": "0db1fb73f05a26006c5f0d6d51a495928ef03df28e4ee1463cd851a84794ddd8",
    "truth/product_segments.parquet": "5184b57bc8dbf86a4772e5f39e2e87442bc6d3c73d830322c87d124f14e4d9ac",
    "truth/report_facts.parquet": "9110f9eb7243d9d1d61984267c892cf56c59135da87a99c2c7102e4095cfaa39",
    "truth/segment_trends.parquet": "c6a2ee783e0d96500a934c90107c47a1f5a0fa97a58cb41bad95aefa065d5f74",
    "truth/supply_edges.parquet": "31c195be1cf8c05af03a8255d225875215f7bebabc4d531e657926d9509bdc2c",
}


def content_digest(folder: Path) -> dict[str, str]:
    def one(path: Path) -> str:
        if path.suffix == ".parquet":
            buffer = io.BytesIO()
            pacsv.write_csv(pq.read_table(path), buffer)
            return hashlib.sha256(buffer.getvalue()).hexdigest()
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return {p.relative_to(folder).as_posix(): one(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def blind(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blind")
    generate(out, firms=8000, seed=42, profile="blind")
    return out


def sql(query: str) -> list[tuple]:
    return duckdb.sql(query).fetchall()


def test_standard_profile_is_unchanged(tmp_path: Path) -> None:
    generate(tmp_path, firms=300, seed=3, fmt="csv")
    assert content_digest(tmp_path) == STANDARD_300_SEED3
    assert not (tmp_path / SEEN_ONTOLOGY).exists()


def test_blind_profile_is_unchanged(tmp_path: Path) -> None:
    generate(tmp_path, firms=300, seed=3, fmt="csv", profile="blind")
    assert content_digest(tmp_path) == BLIND_300_SEED3


def test_blind_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate(tmp_path / name, firms=400, seed=seed, profile="blind")
    a, b, c = (digest(tmp_path / n) for n in "abc")
    assert a == b
    assert SEEN_ONTOLOGY in a
    assert a["invoices.parquet"] != c["invoices.parquet"] and a[SEEN_ONTOLOGY] != c[SEEN_ONTOLOGY]


def test_blind_differs_from_standard(tmp_path: Path) -> None:
    generate(tmp_path / "s", firms=400, seed=5)
    generate(tmp_path / "b", firms=400, seed=5, profile="blind")
    assert digest(tmp_path / "s")["invoices.parquet"] != digest(tmp_path / "b")["invoices.parquet"]


def test_held_out_terms_never_reach_the_loaded_lexicon(blind: Path) -> None:
    seen = ontology.load(blind / SEEN_ONTOLOGY)  # the stage's own loader: validates
    words = vocab.build(load_default(), 42)
    held = {normalise_term(t) for t in words.held_out_terms()}
    assert len(held) > 300
    lexicon = lexicon_table(seen).to_pylist()
    loaded = {r["normalised"] for r in lexicon if r["kind"] in ("product", "synonym", "scope_term")}
    assert not held & loaded
    # the seen ontology keeps every segment and edge, with at least one term per product
    default = load_default()
    assert seen.segments().keys() == default.segments().keys()
    assert [(e.source, e.target) for e in seen.edges()] == [(e.source, e.target) for e in default.edges()]
    assert all(s.products and s.scope_terms for s in seen.segments().values())


def test_ontology_stage_run_with_the_seen_ontology_holds_no_held_out_term(blind: Path, tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        ontology.run(ws, Config(ontology=blind / SEEN_ONTOLOGY))
        loaded = set(ws.engine.query("SELECT normalised FROM lexicon").column("normalised").to_pylist())  # codes too
    held = {normalise_term(t) for t in vocab.build(load_default(), 42).held_out_terms()}
    assert loaded and not held & loaded


def test_curated_terms_are_new_to_the_default_ontology() -> None:
    known = set(lexicon_table(load_default()).column("normalised").to_pylist())
    curated = vocab.curated()
    terms = [t for entry in curated["segments"].values() for t in entry["terms"]]
    assert len(terms) >= 5 * 60
    assert not {normalise_term(t) for t in terms} & known
    assert set(curated["segments"]) == set(load_default().segments())


def test_about_half_of_product_texts_use_held_out_terms(blind: Path) -> None:
    held = vocab.build(load_default(), 42).held_out_terms()
    items = sql(f"""SELECT i.item_name FROM '{blind}/invoices.parquet' i
                    JOIN '{blind}/truth/item_segments.parquet' t USING (item_name, tax_code)""")
    def term(item: str) -> str:
        return item.split("*")[-1].split(" ")[0] if item.startswith("*") else item.split(" ")[0]
    share = np.mean([term(i) in held for (i,) in items])
    assert 0.35 <= share <= 0.65
    products = [p for (p,) in sql(f"SELECT product_name FROM '{blind}/products.parquet'")]
    assert 0.35 <= np.mean([p in held for p in products]) <= 0.65
    starred = sql(f"SELECT avg((item_name LIKE '*%*%')::INT) FROM '{blind}/invoices.parquet'")[0][0]
    assert 0.6 <= starred <= 0.95


def test_non_product_lines_are_written_but_name_no_segment(blind: Path) -> None:
    lines = {line for _, line, _ in vocab.build(load_default(), 42).noise_items}
    found = sql(f"SELECT DISTINCT item_name FROM '{blind}/invoices.parquet' WHERE item_name LIKE '*%*%'")
    non_product = {i for (i,) in found if i.split("*")[-1] in lines}
    assert {"*运输服务*运费", "*木制品*木托盘", "*现代服务*返利"} <= non_product
    in_truth = sql(f"SELECT item_name FROM '{blind}/truth/item_segments.parquet'")
    assert not non_product & {i for (i,) in in_truth}


def test_anchors_vary_per_chain_and_overlap_the_largest_smes(blind: Path) -> None:
    per_chain = dict(sql(f"SELECT chain_id, count(*) FROM '{blind}/truth/firms.parquet' WHERE is_anchor GROUP BY 1"))
    assert len(per_chain) == 9 and all(1 <= k <= 6 for k in per_chain.values())
    assert len(set(per_chain.values())) > 1
    smallest_anchor, largest_sme = sql(f"""
        SELECT min(turnover) FILTER (WHERE is_anchor), max(turnover) FILTER (WHERE NOT is_anchor) FROM (
            SELECT f.is_anchor, e.registered_capital AS turnover FROM '{blind}/truth/firms.parquet' f
            JOIN '{blind}/enterprises.parquet' e USING (uscc))""")[0]
    assert smallest_anchor < largest_sme  # by registered capital, the size a registry shows


def test_buyer_names_carry_every_noise_kind(blind: Path) -> None:
    kinds = dict(sql(f"SELECT variant, count(*) FROM '{blind}/truth/mentions.parquet' GROUP BY 1"))
    total = sum(kinds.values())
    assert all(kinds.get(k, 0) > 0.01 * total for k in noise.NOISE_KINDS)
    assert kinds["exact"] < 0.6 * total
    wrong = sql(f"""SELECT count(*) FROM '{blind}/truth/mentions.parquet' m JOIN '{blind}/enterprises.parquet' e
                    ON e.uscc = m.true_uscc WHERE m.variant IN ('same_pinyin', 'shape', 'drop', 'swap', 'traditional',
                    'latin', 'truncated') AND m.name_as_written = e.name""")[0][0]
    assert wrong == 0  # a noisy mention always differs from the registered name


@pytest.mark.parametrize(("kind", "check"), [
    ("same_pinyin", lambda out: out != "嘉兴恒达新材料科技有限公司" and len(out) == 13),
    ("shape", lambda out: out != "嘉兴恒达新材料科技有限公司" and len(out) == 13),
    ("drop", lambda out: len(out) == 12 and out.endswith("有限公司")),
    ("swap", lambda out: sorted(out) == sorted("嘉兴恒达新材料科技有限公司") and out != "嘉兴恒达新材料科技有限公司"),
    ("traditional", lambda out: out == "嘉興恆達新材料科技有限公司"),
    ("latin", lambda out: out == "Jiaxing Hengda New Material Technology Co., Ltd."),
    ("truncated", lambda out: "有限公司" not in out and "嘉兴恒达新材料科技".startswith(out)),
])
def test_noise_kinds(kind: str, check: object) -> None:
    rng = np.random.default_rng(1)
    out = noise.noisy("嘉兴恒达新材料科技有限公司", kind, rng, brand="恒达", trade="新材料科技", city="嘉兴")
    assert callable(check) and check(out), out


def test_same_pinyin_never_uses_the_known_homophone_partner() -> None:
    rng = np.random.default_rng(0)
    outs = {noise.noisy("恒达科技有限公司", "same_pinyin", rng, brand="恒达", trade="科技", city="") for _ in range(200)}
    assert "衡达科技有限公司" not in outs  # 恒/衡 is the pair names.HOMOPHONES (and the resolver) know
    assert any(o.startswith(("横达", "恆达")) or o[0] != "恒" for o in outs) and "恒达科技有限公司" not in outs
    with pytest.raises(ValueError, match="unknown"):
        noise.noisy("恒达", "nonsense", rng, brand="恒达", trade="", city="")


def bench_credit() -> ModuleType:
    """bench/synth_credit.py: the measurement the docstring of synth.credit.blind quotes."""
    return load_script("bench/synth_credit.py")


def test_credit_outcomes_are_calibrated(blind: Path) -> None:
    credit = bench_credit()
    figures = credit.measure(blind)
    assert 0.02 <= figures["default_rate"] <= 0.04
    assert 0.35 <= figures["tied_rate_ratio"] <= 0.75  # stable ties to 2+ large customers: about half the base rate
    assert 0.62 <= figures["auc_registry_bureau"] <= 0.76
    assert 0.0 < figures["auc_registry_bureau_ties"] - figures["auc_registry_bureau"] < 0.05
    assert 0.0 < figures["auc_true_pd"] - figures["auc_true_pd_without_ties"] < 0.03
    assert figures["auc_true_pd"] > figures["auc_registry_bureau_ties"]


def test_blind_gbk_csv_ingests_cleanly(tmp_path: Path) -> None:
    generate(tmp_path / "csv", firms=400, seed=3, fmt="csv", encoding="gbk", profile="blind")
    with Workspace(tmp_path / "ws") as ws:
        report = ingest.run(ws, Config(), [tmp_path / "csv"])
        assert not report.errors
        assert report.totals()["rows_quarantined"] == 0


def test_bad_profile_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="profile"):
        generate(tmp_path, firms=500, profile="secret")


def test_cli_synth_profile(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "b"), "--firms", "300", "--profile", "blind"])
    assert result.exit_code == 0, result.output
    assert "profile blind" in result.output and SEEN_ONTOLOGY in result.output
    assert (tmp_path / "b" / SEEN_ONTOLOGY).is_file()
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path / "x"), "--firms", "300", "--profile", "nope"])
    assert bad.exit_code != 0 and "error:" in bad.output and "profile" in bad.output


def test_anchors_carry_no_registry_mark_of_their_own(blind: Path) -> None:
    """Issue 11: on main every blind anchor was 集团股份有限公司, founded 1990-06-01 and never misregistered.
    Now legal form, founding date and registry quality follow size: anchors share none of them, and the large
    non-anchors draw from the same legal forms."""
    rows = sql(f"""SELECT f.is_anchor, e.name, e.founded, f.misregistered, f.uscc
                   FROM '{blind}/truth/firms.parquet' f JOIN '{blind}/enterprises.parquet' e USING (uscc)""")
    story_anchor = sql(f"SELECT uscc FROM '{blind}/enterprises.parquet' WHERE name = '{STORY_ANCHOR_NAME}'")[0][0]
    anchors = [r for r in rows if r[0] and r[4] != story_anchor]
    forms = ("集团股份有限公司", "股份有限公司", "集团有限公司", "有限责任公司", "有限公司")
    form_of = lambda name: next(f for f in forms if name.endswith(f))  # noqa: E731
    anchor_forms = Counter(form_of(r[1]) for r in anchors)
    assert len(anchor_forms) >= 3 and max(anchor_forms.values()) <= 0.6 * len(anchors)
    assert len({r[2] for r in anchors}) >= 0.9 * len(anchors)  # founding dates spread, none shared by all
    assert any(r[3] for r in anchors)  # misregistered like other large firms
    large_forms = {form_of(name) for is_anchor, name, *_ in rows if not is_anchor and "集团" in name}
    assert {"集团股份有限公司", "集团有限公司"} <= large_forms


def test_anchors_behave_as_core_firms(blind: Path) -> None:
    """Anchors' trade (truth edges): more suppliers than the non-anchors of the same turnover band, and their
    suppliers sell them a larger share of their output on longer ties (the effects in ``synth.trade``)."""
    stats = dict((row[0], row[1:]) for row in sql(f"""
        WITH sales AS (SELECT seller_uscc, sum(amount_total) AS total FROM '{blind}/truth/supply_edges.parquet'
                       WHERE is_supply GROUP BY 1),
             ties AS (SELECT e.buyer_uscc, e.amount_total / s.total AS share,
                             date_diff('month', e.first_date, e.last_date) + 1 AS months
                      FROM '{blind}/truth/supply_edges.parquet' e JOIN sales s USING (seller_uscc) WHERE e.is_supply),
             buyers AS (SELECT buyer_uscc AS uscc, count(*) AS suppliers, avg(share) AS share, avg(months) AS months
                        FROM ties GROUP BY 1)
        SELECT f.is_anchor, avg(b.suppliers), avg(b.share), avg(b.months)
        FROM '{blind}/truth/firms.parquet' f JOIN '{blind}/enterprises.parquet' e USING (uscc) JOIN buyers b USING (uscc)
        WHERE e.registered_capital BETWEEN 3e7 AND 3e8 GROUP BY 1"""))
    (anchor_suppliers, anchor_share, anchor_months), (other_suppliers, other_share, other_months) = stats[True], stats[False]
    assert anchor_suppliers > 3 * other_suppliers
    assert anchor_share > 1.2 * other_share and anchor_months > other_months + 3
