"""The scorecard: binning read back exactly, points scaling, exact save/load, PSI, reasons, CLI, real data."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import require_shared

from chainlight.errors import InputError
from chainlight.risk.scorecard import Scorecard, cross_validate, fit_challenger, read_csv

LABEL = "status"


def synthetic(n: int = 3000, seed: int = 1, shift: float = 0.0) -> pd.DataFrame:
    """Bad odds rise with debt_ratio, fall with age, depend on region; a U-shaped 'tenure'; missing
    incomes (riskier) and the special code -999 in income (also riskier)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 70, n).astype(float)
    debt = rng.uniform(0, 1, n) + shift
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    tenure = rng.uniform(0, 20, n)
    income = rng.lognormal(10, 0.5, n)
    missing = rng.random(n) < 0.08
    special = rng.random(n) < 0.05
    region_effect = pd.Series(region).map({"north": -0.5, "south": 0.0, "east": 0.4, "west": 1.0}).to_numpy()
    logit = -1.8 + 2.5 * (debt - shift) - 0.03 * (age - 40) + region_effect + 0.02 * (tenure - 10) ** 2 / 5
    logit += np.where(missing, 0.8, 0.0) + np.where(special, 1.0, 0.0)
    bad = rng.random(n) < 1 / (1 + np.exp(-logit))
    income_col = np.where(missing, np.nan, np.where(special, -999.0, income))
    return pd.DataFrame({"age": age, "debt_ratio": debt, "region": region, "tenure": tenure, "income": income_col,
                         LABEL: np.where(bad, "bad", "good")})


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def card(frame: pd.DataFrame) -> Scorecard:
    return Scorecard.fit(frame, LABEL, "bad", special_codes={"income": [-999]})


# -- the card ------------------------------------------------------------------------------------------
def test_card_separates_bads_and_keeps_informative_features(card: Scorecard, frame: pd.DataFrame) -> None:
    names = {f.name for f in card.features}
    assert {"debt_ratio", "age", "region"} <= names
    assert card.training["auc"] > 0.68
    assert all(f.coefficient < 0 for f in card.features)  # WOE = ln(%good/%bad): higher WOE, safer
    pd_ = card.predict_pd(frame)
    assert np.all((pd_ > 0) & (pd_ < 1))


def test_score_is_base_plus_bin_points_and_pd_follows_the_scaling(card: Scorecard, frame: pd.DataFrame) -> None:
    indices = card.bin_indices(frame)
    expected = card.base_score + sum(f.points_of(indices[f.name]) for f in card.features)
    assert np.allclose(card.score(frame), expected)
    s = card.scaling
    assert card.pd_of_score(np.array([s.base_points]))[0] == pytest.approx(1 / (1 + s.base_odds))
    assert card.pd_of_score(np.array([s.base_points + s.pdo]))[0] == pytest.approx(1 / (1 + 2 * s.base_odds))
    order = np.argsort(card.score(frame))
    assert np.all(np.diff(card.predict_pd(frame)[order]) <= 1e-15)  # more points, lower PD
    table = card.points_table()
    assert table.iloc[0]["feature"] == "(base)" and table.iloc[0]["points"] == pytest.approx(card.base_score)


def test_missing_special_and_unseen_values_have_their_bins(card: Scorecard) -> None:
    income = card.feature("income")
    rows = pd.DataFrame({"age": [30, 30, 30, 30], "debt_ratio": [0.5] * 4, "region": ["north", "north", "Mars", None],
                         "tenure": [10] * 4, "income": [20000, np.nan, -999, 20000]})
    idx = income.bin_index(rows["income"])
    assert [income.bins[i].kind for i in idx] == ["regular", "missing", "special", "regular"]
    assert income.bins[idx[1]].woe < 0 and income.bins[idx[2]].woe < 0  # both riskier than average in the data
    region = card.feature("region")
    ridx = region.bin_index(rows["region"])
    assert ridx[2] == -1 and region.woe_of(ridx)[2] == 0.0  # unseen category: neutral
    assert region.bins[ridx[3]].kind == "missing"
    assert np.isfinite(card.predict_pd(rows)).all()


def test_text_and_typed_values_bin_alike(card: Scorecard, frame: pd.DataFrame) -> None:
    as_text = frame.head(200).astype(object).map(lambda v: "" if isinstance(v, float) and math.isnan(v) else str(v))
    assert np.array_equal(card.score(as_text), card.score(frame.head(200)))


def test_requested_monotone_trend_is_kept(frame: pd.DataFrame) -> None:
    card = Scorecard.fit(frame, LABEL, "bad", features=["debt_ratio", "tenure", "age"],
                         monotonic_trend={"debt_ratio": "ascending", "age": "descending"}, min_iv=0.0)
    for name, sign in (("debt_ratio", 1), ("age", -1), ("tenure", 0)):
        f = card.feature(name)
        rates = np.array([b.bad_rate for b in f.bins if b.kind == "regular"])
        steps = np.diff(rates)
        if sign:
            assert np.all(sign * steps >= 0), (name, rates)
        else:  # default auto_asc_desc: monotone one way or the other even on a U shape
            assert np.all(steps >= 0) or np.all(steps <= 0), (name, rates)
    wrong = Scorecard.fit(frame, LABEL, "bad", features=["debt_ratio", "age"], monotonic_trend={"debt_ratio": "descending"},
                          min_iv=0.0)
    assert "debt_ratio" in wrong.dropped  # forced the wrong way: one bin left, not a feature


def test_binning_matches_optbinning_transform(card: Scorecard, frame: pd.DataFrame) -> None:
    from optbinning import OptimalBinning

    from chainlight.risk.scorecard import as_numbers
    y = (frame[LABEL] == "bad").to_numpy().astype(int)
    f = card.feature("income")
    x = as_numbers(frame["income"])
    optb = OptimalBinning(dtype="numerical", monotonic_trend=f.monotonic_trend, special_codes=[-999.0]).fit(x, y)
    theirs = optb.transform(x, metric="woe", metric_missing="empirical", metric_special="empirical")
    assert np.allclose(theirs, f.woe_of(f.bin_index(frame["income"])), atol=1e-12)
    rare = Scorecard.fit(frame, LABEL, "bad", features=["region", "debt_ratio"], cat_cutoff=0.15)
    region = rare.feature("region")
    assert region.groups[-1] == ("west",)  # the 10% category falls in the 'others' bin
    optb = OptimalBinning(dtype="categorical", cat_cutoff=0.15).fit(frame["region"].to_numpy(dtype=object), y)
    theirs = optb.transform(frame["region"].to_numpy(dtype=object), metric="woe")
    assert np.allclose(theirs, region.woe_of(region.bin_index(frame["region"])), atol=1e-12)


# -- persistence -------------------------------------------------------------------------------------------
def test_save_load_round_trip_is_exact(card: Scorecard, frame: pd.DataFrame, tmp_path: Path) -> None:
    path = card.save(tmp_path / "card.json")
    loaded = Scorecard.load(path)
    assert loaded.version == card.version
    assert loaded.scaling == card.scaling and loaded.calibration == card.calibration
    assert np.array_equal(loaded.predict_pd(frame), card.predict_pd(frame))
    assert np.array_equal(loaded.score(frame), card.score(frame))
    pd.testing.assert_frame_equal(loaded.points_table(), card.points_table())
    assert loaded.reasons(frame.head(3)) == card.reasons(frame.head(3))


def test_custom_scaling_survives_the_round_trip(frame: pd.DataFrame, tmp_path: Path) -> None:
    card = Scorecard.fit(frame, LABEL, "bad", pdo=40, base_points=500, base_odds=20)
    loaded = Scorecard.load(card.save(tmp_path / "c.json"))
    assert (loaded.scaling.pdo, loaded.scaling.base_points, loaded.scaling.base_odds) == (40, 500, 20)
    assert np.array_equal(loaded.score(frame), card.score(frame))


def test_edited_or_foreign_card_files_are_refused(card: Scorecard, tmp_path: Path) -> None:
    data = json.loads(card.to_json())
    data["features"][0]["points"][0] += 50
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match="does not match its version"):
        Scorecard.load(edited)
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(InputError, match="not a chainlight scorecard"):
        Scorecard.load(foreign)
    with pytest.raises(InputError, match="not found"):
        Scorecard.load(tmp_path / "absent.json")


def test_fitting_is_deterministic(frame: pd.DataFrame, card: Scorecard) -> None:
    again = Scorecard.fit(frame, LABEL, "bad", special_codes={"income": [-999]})
    assert again.version == card.version
    other = Scorecard.fit(frame.sample(frac=1.0, random_state=3).reset_index(drop=True).head(2000), LABEL, "bad",
                          special_codes={"income": [-999]})
    assert other.version != card.version


# -- PSI and reasons --------------------------------------------------------------------------------------------
def test_psi_zero_on_identical_data_and_large_on_shifted_data(card: Scorecard, frame: pd.DataFrame) -> None:
    same = card.psi(frame, frame)
    assert set(same) == {f.name for f in card.features}
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in same.values())
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in card.psi(None, frame).values())  # stored training counts
    shifted = card.psi(frame, synthetic(seed=2, shift=0.4))
    assert shifted["debt_ratio"] > 0.25
    assert shifted["region"] < 0.1  # the region mix did not move


def test_reasons_name_the_worst_and_best_features(card: Scorecard, frame: pd.DataFrame) -> None:
    debt = card.feature("debt_ratio")
    worst_debt = frame.loc[debt.bin_index(frame["debt_ratio"]) == int(np.argmin(debt.points[:debt.n_regular]))]
    row = worst_debt.head(1)
    (reasons,) = card.reasons(row, top=10)
    assert reasons.score == pytest.approx(card.score(row)[0])
    assert "debt_ratio" in [r.feature for r in reasons.adverse]
    assert all(a.shortfall >= b.shortfall for a, b in zip(reasons.adverse, reasons.adverse[1:], strict=False))
    assert all(r.gain > 0 for r in reasons.favourable)
    top2 = card.reasons(row, top=2)[0]
    assert len(top2.adverse) <= 2 and top2.adverse == reasons.adverse[:2]


# -- bad input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("label", "bad", "message"), [
    ("nope", "bad", "not in the data"),
    (LABEL, "awful", "does not occur"),
])
def test_fit_refuses_bad_labels(frame: pd.DataFrame, label: str, bad: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Scorecard.fit(frame, label, bad)


def test_fit_refuses_one_class_and_uninformative_data(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="one class"):
        Scorecard.fit(frame.assign(status="bad"), LABEL, "bad")
    noise = pd.DataFrame({"x": np.arange(400) % 7, LABEL: ["bad", "good"] * 200})
    with pytest.raises(InputError, match="no feature"):
        Scorecard.fit(noise, LABEL, "bad")


def test_identifier_columns_are_left_out(frame: pd.DataFrame) -> None:
    with_id = frame.assign(customer=[f"C{i:06d}" for i in range(len(frame))])
    card = Scorecard.fit(with_id, LABEL, "bad", features=["customer", "debt_ratio"])
    assert [f.name for f in card.features] == ["debt_ratio"]
    assert "identifier" in card.dropped["customer"]


def test_a_column_of_only_rare_categories_is_still_binned(frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    branch = rng.integers(0, 40, len(frame))  # 40 levels, each ~2.5% < the 5% cut-off
    y = (frame[LABEL] == "bad").to_numpy()
    branch = np.where(y & (rng.random(len(frame)) < 0.5), branch % 4, branch)  # branches 0-3 riskier
    card = Scorecard.fit(frame.assign(branch=[f"b{b}" for b in branch]), LABEL, "bad", features=["branch", "debt_ratio"])
    assert card.feature("branch").n_regular >= 2


def test_score_names_missing_feature_columns(card: Scorecard, frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="debt_ratio"):
        card.score(frame.drop(columns=["debt_ratio"]))


def test_numeric_labels_match_text_bad_values() -> None:
    df = synthetic(1500)
    df[LABEL] = (df[LABEL] == "bad").astype(int)
    a = Scorecard.fit(df, LABEL, "1", features=["debt_ratio", "region"])
    b = Scorecard.fit(df, LABEL, 1, features=["debt_ratio", "region"])
    assert np.array_equal(a.score(df), b.score(df))
    flags = df.assign(**{LABEL: df[LABEL] == 1})  # a boolean label such as outcomes.defaulted_12m
    c = Scorecard.fit(flags, LABEL, True, features=["debt_ratio", "region"])
    assert np.array_equal(a.score(df), c.score(df))


# -- cross-validation and challenger --------------------------------------------------------------------------------
def test_challenger_is_deterministic_and_beside_the_card(frame: pd.DataFrame) -> None:
    one = fit_challenger(frame, LABEL, "bad", folds=3, seed=5)
    two = fit_challenger(frame, LABEL, "bad", folds=3, seed=5)
    assert np.array_equal(one.oof, two.oof)
    assert one.mean_auc > 0.6
    cv = cross_validate(frame, LABEL, "bad", folds=3, seed=5)
    assert len(cv.fold_aucs) == 3 and cv.mean_auc > 0.6


# -- CLI --------------------------------------------------------------------------------------------------------
def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainlight", *args], capture_output=True, text=True, timeout=300, check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and fragment in lines[0], result.stderr


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """A GBK-encoded labelled CSV (Chinese categories, an id, ten unlabelled rows), fitted once through the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    df = synthetic(1500, seed=4)
    df["region"] = df["region"].map({"north": "华北", "south": "华南", "east": "华东", "west": "西部"})
    df.insert(0, "id", [f"A{i:05d}" for i in range(len(df))])
    df.loc[:9, LABEL] = ""  # unlabelled rows: left out of the fit, still scored by apply
    train = folder / "train.csv"
    df.to_csv(train, index=False, encoding="gbk")
    scoring = folder / "score.csv"
    synthetic(800, seed=9, shift=0.3).assign(region="华北").drop(columns=[LABEL]).to_csv(scoring, index=False)
    card = folder / "card.json"
    result = cli("scorecard", "fit", "--data", str(train), "--label", LABEL, "--bad", "bad", "--out", str(card),
                 "--exclude", "id", "--special", "-999", "--score-data", str(scoring), "--folds", "2")
    assert result.returncode == 0, result.stderr
    return card, train, df


def test_cli_fit_writes_card_and_self_contained_report(fitted: tuple[Path, Path, pd.DataFrame]) -> None:
    card_path, _, _ = fitted
    card = Scorecard.load(card_path)
    assert "id" not in {f.name for f in card.features}
    assert card.training["rows"] == 1490
    html = card_path.with_suffix(".html").read_text(encoding="utf-8")
    for f in card.features:
        assert f"<h3 id=\"feature-{f.name.replace('_', '-')}\">{f.name} " in html
        for b in f.bins:
            assert html_escape(b.label) in html
    for section in ("Points table", "ROC", "KS", "score distribution", "Population stability", "LightGBM challenger"):
        assert section in html, section
    assert "华北" in html
    for fetch in ("<script", 'src="http', 'href="http', "url(http", "@import"):  # nothing to load: works offline
        assert fetch not in html, fetch


def test_cli_apply_keeps_rows_and_columns_with_or_without_label(fitted: tuple[Path, Path, pd.DataFrame],
                                                                tmp_path: Path) -> None:
    card_path, train, df = fitted
    card = Scorecard.load(card_path)
    for name, data in (("with_label", df), ("without_label", df.drop(columns=[LABEL]))):
        source = tmp_path / f"{name}.csv"
        data.iloc[::-1].to_csv(source, index=False, encoding="utf-8")  # reversed: order must be kept
        out = tmp_path / f"{name}_scored.csv"
        result = cli("scorecard", "apply", "--card", str(card_path), "--data", str(source), "--out", str(out))
        assert result.returncode == 0, result.stderr
        scored = pd.read_csv(out, dtype=str, keep_default_na=False)
        original = read_csv(source)
        assert list(scored.columns) == [*original.columns, "pd", "score"]
        pd.testing.assert_frame_equal(scored[list(original.columns)], original)
        assert np.allclose(scored["pd"].astype(float), card.predict_pd(read_csv(train)).tolist()[::-1], rtol=1e-12)


@pytest.mark.parametrize("case", ["missing_file", "label_absent", "one_class", "bad_absent", "not_csv", "not_text"])
def test_cli_fit_bad_input_is_one_error_line(case: str, tmp_path: Path) -> None:
    good = tmp_path / "data.csv"
    synthetic(300).to_csv(good, index=False)
    args = {"data": str(good), "label": LABEL, "bad": "bad"}
    if case == "missing_file":
        args["data"] = str(tmp_path / "absent.csv")
    elif case == "label_absent":
        args["label"] = "outcome"
    elif case == "one_class":
        synthetic(300).assign(status="good").to_csv(good, index=False)
    elif case == "bad_absent":
        args["bad"] = "defaulted"
    elif case == "not_csv":
        args["data"] = str(tmp_path / "data.parquet")
        synthetic(300).to_parquet(args["data"])
    else:
        good.write_bytes(b"\x00\xff\xfe\x81" * 200)
    result = cli("scorecard", "fit", "--data", args["data"], "--label", args["label"], "--bad", args["bad"],
                 "--out", str(tmp_path / "card.json"), "--folds", "0")
    expected = {"missing_file": "not found", "label_absent": "'outcome'", "one_class": "one class",
                "bad_absent": "does not occur", "not_csv": "not a CSV", "not_text": "data.csv"}[case]
    assert_one_line_error(result, expected)
    assert not (tmp_path / "card.json").exists()


def test_cli_apply_bad_input_is_one_error_line(fitted: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    card_path, _, df = fitted
    lacking = tmp_path / "lacking.csv"
    df.drop(columns=["debt_ratio"]).to_csv(lacking, index=False)
    assert_one_line_error(cli("scorecard", "apply", "--card", str(card_path), "--data", str(lacking),
                              "--out", str(tmp_path / "o.csv")), "debt_ratio")
    assert_one_line_error(cli("scorecard", "apply", "--card", str(lacking), "--data", str(lacking),
                              "--out", str(tmp_path / "o.csv")), "scorecard")
    assert not (tmp_path / "o.csv").exists()


# -- real data --------------------------------------------------------------------------------------------------
def test_german_credit_fixed_split_auc() -> None:
    """A 75/25 stratified split (seed 42) of the shared 800 rows: published logistic cards reach 0.78–0.83."""
    from sklearn.model_selection import train_test_split

    from chainlight.risk.scorecard import auc, labelled
    path = require_shared("credit_german") / "germancredit.csv"
    frame = read_csv(path)
    y, frame = labelled(frame, "creditability", "bad")
    train, test = train_test_split(np.arange(len(frame)), test_size=0.25, stratify=y, random_state=42)
    card = Scorecard.fit(frame.iloc[train].reset_index(drop=True), "creditability", "bad")
    score_frame = frame.iloc[test].drop(columns=["creditability"]).reset_index(drop=True)
    assert auc(y[test], card.predict_pd(score_frame)) >= 0.78
