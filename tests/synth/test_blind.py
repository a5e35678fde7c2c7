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
# Replaced (branch synth-flat, issue 18): the generator draws a block of firms at a time from block-addressed
# streams (``synth.spill``), so memory is flat in firms: every table is a new draw of the same economy.
STANDARD_300_SEED3 = {
    "aliases.csv": "6f5c48206c636db051400a49071b137c6dcf84b303f89f39ceef01d38da81cc0",
    "applications.csv": "caba991748c02a190cd59702ec9883fc4eb4bce22a0459f887283185ce49dd56",
    "bureau.csv": "3303b740aa013bfd737105eba3638aeae02de1806c3484cb1c28a1476bafd9aa",
    "enterprises.csv": "8a0a843afec02db7d5ceed62085f7b9ae73ddb404a37e38ec9169cace62f18ec",
    "invoices.csv": "75b54677f72502f34534caa629ce2c18fefa1da7bcec26b1aa65f4ab7894494f",
    "outcomes.csv": "4adf5dbab3dd138a155c0578f4dd07b57cbc467b1871304c4edc8606be04c4ad",
    "patents.csv": "ecea2b7df3243c26153aa20d9b9e3b4945bd8a9881f372830fd33f612de0a674",
    "products.csv": "cdc769ab0181d1267c79d49524a726b64534820cb156cb1193ef9678723d6843",
    "reports.csv": "cc9b19456a41543f5ea74f9cf9faef765acbaefc376c235b15b961ba41245cb6",
    "truth/firm_segments.parquet": "ef6ceda1581d2f31eb624f657c238175aaf7c87e9195cf62d56c37927d85cb17",
    "truth/firms.parquet": "b492e33ea73f9c90a55b0f6e8e8f811e629212ea0e5f9bd7daddab5d3a6c7061",
    "truth/item_segments.parquet": "da5d2f33cbc957e3f7d2a9f53609ce82c71c7b9f229aa2d9bde66dbc57df938c",
    "truth/mentions.parquet": "b8c776b51879a3d1613556b46eabe0d7e12dcab4f884104c5e8f5b73ffcae5e1",
    "truth/outcomes.parquet": "012940c87a4a45a8922f5bf962dd2fdad6f886fe4298dbef1ff663ffff7cebfa",
    "truth/product_segments.parquet": "5556a497fa120a1f4c3d68fe48d4c44b4ac39ff3a30df357cac85c655ae6ff48",
    "truth/report_facts.parquet": "ad9ae966dc0b89e3fbcd32723728155a93d15ac4a08c49605fa30b87c20880fa",
    "truth/segment_trends.parquet": "c6a2ee783e0d96500a934c90107c47a1f5a0fa97a58cb41bad95aefa065d5f74",
    "truth/supply_edges.parquet": "e9687658136199a784a83cc7a600c09b94b209aef9e9608b9ae5a335834899ef",
}


# content sha256 (truth Parquet as CSV) of `generate(out, firms=300, seed=3, fmt="csv", profile="blind")`; replaced
# on branch synth-flat (block-addressed streams, a new draw of the same economy), as STANDARD_300_SEED3 was.
BLIND_300_SEED3 = {
    "aliases.csv": "83b33de8bd564422e54ba8a0592ab7833cb4f81bf56ed5e7d7527dc012fca42c",
    "applications.csv": "55dd34834fb2b3595867a5eed5352b91f20e3567a99573f612277864d6edc565",
    "bureau.csv": "76a17ffa4285ac44005343a0233482136b0678786271f503ea175dcb1547b7b1",
    "enterprises.csv": "179cb4c12184a86c45fe6714c8bdaa870e5ba345852a827d20a818dfcc594763",
    "invoices.csv": "89a1d403a593deaec13d9d02b4287698992620f038bd527f633a89831dfe05c9",
    "ontology.yaml": "07079f4daf7ae2f1158932ee0ad5deed5a0a720e49ae1d829618ba7488df7e08",
    "outcomes.csv": "c540e210884cce77bbfdc304f571df0a64ed53db66bbf4028055a00839e8f9d0",
    "patents.csv": "ed5cbe90a299463ba5769398fdb420e49207867964138a6300d0c88ea49cc178",
    "products.csv": "3646475a73a4d4c3473d18ffc20a951238d0e867cd90d10c1549bb30864ea7b8",
    "reports.csv": "bd065963400ca80672f36590355171d9de206b07c28b7a751f8f41f146493a1c",
    "truth/firm_segments.parquet": "ac23b6e2eebe88f7561afa9de635f3792a6ffa08bd405f28e153ecc07cd2ec6b",
    "truth/firms.parquet": "2cfa09218336b37e96da8fc3a639435e19c636ed08c7688f963e6263e63221e1",
    "truth/item_segments.parquet": "009806773115391ef0cb303c5356c6a5e4546e5edfcee8d5f3a5550674ee2a78",
    "truth/mentions.parquet": "2b786ca41b0b25a56b11e68c1b78471045a7c5f09af2c4c534f7e3687caac7eb",
    "truth/outcomes.parquet": "821c38a0178b3ee12dfcb9be7c798a7ebdb5591f10dccc9b3ee7f99aab811336",
    "truth/product_segments.parquet": "f00a7e70e317667e21268ceff5ebb3e82d6cebeaa1b3774a342db55564929667",
    "truth/report_facts.parquet": "c5bf1d7214353e0e3bb53e64a0d74bc07139f7cef31c121b4e5b7918eb443008",
    "truth/segment_trends.parquet": "c6a2ee783e0d96500a934c90107c47a1f5a0fa97a58cb41bad95aefa065d5f74",
    "truth/supply_edges.parquet": "e36f6a658cea7ef2f8110ff268c9609177834907fa417d3bb87d6470363e2f8b",
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
                       WHERE is_supply GROUP BY 1 HAVING sum(amount_total) > 0),  -- every invoice reversed: no share
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
