"""A credit scorecard on any labelled table: monotone optimal binning, WOE, logistic regression, points.

Fitting uses optbinning (``BinningProcess`` of ``OptimalBinning``) for the bins and scikit-learn's
``LogisticRegression`` on the weights of evidence. The fitted card is then *only data*: per feature
its split points (numeric) or category groups (categorical), special codes, per-bin counts, WOE and
points; the coefficients, the calibration and the points scaling. Every prediction — right after
``fit`` as after ``load`` — goes through that data, so a saved card (plain JSON, no pickle: loading
a card file cannot run code) predicts exactly what the fitted one did, and ``version`` is the hash
of that JSON.

Conventions:
- The label is bad (1) where it equals ``bad_value`` (compared as text, so ``1``, ``"1"`` and
  ``1.0`` match), good otherwise; rows without a label are left out of the fit.
- WOE is optbinning's: ``ln(%good / %bad)`` per bin, so a higher WOE is safer and every kept
  coefficient is negative (a feature whose coefficient comes out with the wrong sign is dropped
  and the model refitted, so points always move the way the bin's bad rate says).
- Missing values and special codes get their own bins with their empirical WOE (0 when the training
  data had none of them, i.e. neutral). A category never seen in training also gets WOE 0.
- Probability of default is Platt-calibrated on out-of-fold logits (stratified folds, seeded),
  which shrinks the in-sample over-confidence of the regression. Points are linear in the
  calibrated log-odds: ``score = offset - factor * ln(odds_bad)``, ``factor = pdo / ln 2``,
  ``offset = base_points - factor * ln(base_odds)`` where ``base_odds`` is good:bad odds at
  ``base_points``. So ``score`` and ``pd`` are two views of one number.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chainlight.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "chainlight.scorecard/1"
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "#n/a"})  # not "none": a real category in many tables
UNSEEN_WOE = 0.0  # optbinning's default for unknown categories: the WOE of the mean bad rate


# -- value normalisation: one rule for fit and apply ---------------------------------------------------
def _text(value: Any) -> str | None:
    """A value as category text: None for missing; integral numbers without '.0' (1, 1.0, '1' agree)."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value).strip()
    if text.lower() in MISSING_TOKENS:
        return None
    return text


def label_text(value: Any) -> str | None:
    """Label values and ``bad_value`` compared as text; numeric-looking text normalised (``'1.0'`` = ``'1'``)."""
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return _text(number) if math.isfinite(number) else text


def _per_distinct(values: pd.Series, convert: Any) -> np.ndarray:
    """``convert`` applied once per distinct value (fast on a million rows); None where missing."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([convert(u) for u in uniques] + [None], dtype=object)
    return table[codes]  # code -1 (missing) picks the trailing None


def as_categories(values: pd.Series) -> np.ndarray:
    """Object array of category texts, None where missing."""
    return _per_distinct(values, _text)


def labels_as_text(values: pd.Series) -> np.ndarray:
    return _per_distinct(values, label_text)


def _number(value: Any) -> float:
    text = _text(value)
    if text is None:
        return math.nan
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return math.nan


def as_numbers(values: pd.Series) -> np.ndarray:
    """float64 array, NaN where missing or not a number (text that is not a number reads as missing)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64").to_numpy()
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64").to_numpy(na_value=np.nan)
    converted = _per_distinct(values, _number)
    converted[pd.isna(converted)] = math.nan
    return converted.astype(np.float64)


def looks_numeric(values: pd.Series) -> bool:
    """Numeric dtype, or text whose every non-missing value parses as a number (CSV read as text)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return False
    if pd.api.types.is_numeric_dtype(values.dtype):
        return True
    uniques = pd.Series(pd.unique(values.dropna()), dtype=object)
    present = uniques[[_text(v) is not None for v in uniques.tolist()]]
    return bool(len(present)) and bool(np.isfinite(as_numbers(present)).all())


# -- the card's data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bin:
    label: str
    kind: str  # "regular" | "special" | "missing"
    count: int
    bads: int
    woe: float
    iv: float

    @property
    def bad_rate(self) -> float:
        return self.bads / self.count if self.count else 0.0


@dataclass(frozen=True)
class Feature:
    """One binned feature: bins in order regular…, special, missing."""

    name: str
    kind: str  # "numeric" | "categorical"
    bins: tuple[Bin, ...]
    splits: tuple[float, ...] = ()  # numeric: np.digitize(x, splits, right=False) gives the regular bin
    groups: tuple[tuple[str, ...], ...] = ()  # categorical: the categories of each regular bin
    special_codes: tuple[Any, ...] = ()
    monotonic_trend: str = ""
    coefficient: float = 0.0
    points: tuple[float, ...] = ()  # per bin, same order as bins

    @property
    def iv(self) -> float:
        return float(sum(b.iv for b in self.bins))

    @property
    def n_regular(self) -> int:
        return len(self.bins) - 2

    def bin_index(self, values: pd.Series) -> np.ndarray:
        """Index into ``bins`` per value; -1 for a category never seen in training."""
        special, missing = self.n_regular, self.n_regular + 1
        if self.kind == "numeric":
            x = as_numbers(values)
            out = np.full(len(x), missing, dtype=np.int64)
            clean = ~np.isnan(x)
            if self.special_codes:
                is_special = clean & np.isin(x, np.asarray([float(c) for c in self.special_codes]))
                out[is_special] = special
                clean &= ~is_special
            out[clean] = np.digitize(x[clean], np.asarray(self.splits, dtype=np.float64), right=False)
            return out
        lookup = {category: i for i, group in enumerate(self.groups) for category in group}
        codes = {_text(c) for c in self.special_codes}

        def index_of(value: Any) -> int:
            text = _text(value)
            return missing if text is None else special if text in codes else lookup.get(text, -1)
        result = _per_distinct(values, index_of)
        result[pd.isna(result)] = missing
        return result.astype(np.int64)

    def woe_of(self, index: np.ndarray) -> np.ndarray:
        table = np.asarray([b.woe for b in self.bins] + [UNSEEN_WOE], dtype=np.float64)
        return table[index]  # index -1 picks the trailing unseen entry

    def points_of(self, index: np.ndarray) -> np.ndarray:
        table = np.asarray(list(self.points) + [self.unseen_points], dtype=np.float64)
        return table[index]

    @property
    def unseen_points(self) -> float:
        return 0.0  # WOE 0 contributes nothing: the base points alone

    @property
    def max_points(self) -> float:
        return max(p for p, b in zip(self.points, self.bins, strict=True) if b.count or b.kind == "regular")

    @property
    def neutral_points(self) -> float:
        """Training-population average points of this feature: the yardstick for favourable reasons."""
        total = sum(b.count for b in self.bins)
        return sum(p * b.count for p, b in zip(self.points, self.bins, strict=True)) / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "splits": list(self.splits),
                "groups": [list(g) for g in self.groups], "special_codes": list(self.special_codes),
                "monotonic_trend": self.monotonic_trend, "coefficient": self.coefficient,
                "bins": [{"label": b.label, "kind": b.kind, "count": b.count, "bads": b.bads, "woe": b.woe, "iv": b.iv}
                         for b in self.bins],
                "points": list(self.points)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Feature:
        return cls(name=str(data["name"]), kind=str(data["kind"]),
                   bins=tuple(Bin(str(b["label"]), str(b["kind"]), int(b["count"]), int(b["bads"]), float(b["woe"]),
                                  float(b["iv"])) for b in data["bins"]),
                   splits=tuple(float(s) for s in data["splits"]),
                   groups=tuple(tuple(str(c) for c in g) for g in data["groups"]),
                   special_codes=tuple(data["special_codes"]), monotonic_trend=str(data["monotonic_trend"]),
                   coefficient=float(data["coefficient"]), points=tuple(float(p) for p in data["points"]))


@dataclass(frozen=True)
class Scaling:
    pdo: float = 20.0
    base_points: float = 600.0
    base_odds: float = 50.0  # good:bad odds at base_points

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)


@dataclass(frozen=True)
class Reason:
    """One feature's part in a score: its points against the best and the average it could have had."""

    feature: str
    value: Any
    bin: str
    points: float
    max_points: float
    neutral_points: float

    @property
    def shortfall(self) -> float:
        """Points lost against the feature's best bin (adverse reasons rank by this)."""
        return self.max_points - self.points

    @property
    def gain(self) -> float:
        """Points above the training average (favourable reasons rank by this)."""
        return self.points - self.neutral_points


@dataclass(frozen=True)
class Reasons:
    score: float
    pd: float
    adverse: tuple[Reason, ...]
    favourable: tuple[Reason, ...]


@dataclass
class Scorecard:
    """A fitted scorecard; build with ``Scorecard.fit`` or ``Scorecard.load``."""

    label: str
    bad_value: Any
    features: tuple[Feature, ...]
    intercept: float  # of the regression on WOE, before calibration
    calibration: dict[str, float]  # {"slope": a, "intercept": c}: logit_bad = a * raw_logit + c
    scaling: Scaling
    seed: int = 42
    dropped: dict[str, str] = field(default_factory=dict)  # feature -> why it is not in the card
    training: dict[str, Any] = field(default_factory=dict)  # rows, bads, AUC/KS, calibration checks

    # -- fitting -------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, frame: pd.DataFrame, label: str, bad_value: Any, *, features: list[str] | None = None,
            categorical: list[str] | None = None, special_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
            seed: int = 42, pdo: float = 20, base_points: float = 600, base_odds: float = 50,
            monotonic_trend: str | Mapping[str, str] = "auto_asc_desc", min_iv: float = 0.01,
            cat_cutoff: float | None = 0.05, C: float = 0.1, calibrate: bool = True,
            binning_params: Mapping[str, Any] | None = None) -> Scorecard:
        """Bin every feature with optbinning, regress bad on WOE, calibrate, scale to points.

        ``monotonic_trend`` is optbinning's (``ascending``, ``descending``, ``auto_asc_desc``…), for
        every numeric feature or per feature; categorical bins are ordered by bad rate anyway.
        Features with information value below ``min_iv``, one bin only, or a wrong-sign coefficient
        are dropped (``card.dropped`` says why). Categories rarer than ``cat_cutoff`` of the rows
        share one bin. ``C`` is the regression's inverse L2 strength. ``binning_params`` go to every
        feature's ``OptimalBinning`` (``max_n_bins``, ``min_bin_size``…). The defaults were chosen
        on cross-validated German credit (bench/credit_german.py), not on any hold-out.
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # BLAS sums in one fixed order: the same card on any machine
            return cls._fit(frame, label, bad_value, features=features, categorical=categorical,
                            special_codes=special_codes, seed=seed, pdo=pdo, base_points=base_points, base_odds=base_odds,
                            monotonic_trend=monotonic_trend, min_iv=min_iv, cat_cutoff=cat_cutoff, C=C,
                            calibrate=calibrate, binning_params=binning_params)

    @classmethod
    def _fit(cls, frame: pd.DataFrame, label: str, bad_value: Any, *, features: list[str] | None,
             categorical: list[str] | None, special_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None,
             seed: int, pdo: float, base_points: float, base_odds: float, monotonic_trend: str | Mapping[str, str],
             min_iv: float, cat_cutoff: float | None, C: float, calibrate: bool,
             binning_params: Mapping[str, Any] | None) -> Scorecard:
        from sklearn.linear_model import LogisticRegression

        y, frame = labelled(frame, label, bad_value)
        names = _feature_names(frame, label, features)
        kinds = _kinds(frame, names, categorical)
        scaling = Scaling(float(pdo), float(base_points), float(base_odds))
        extra = {**({"cat_cutoff": cat_cutoff} if cat_cutoff else {}), **(binning_params or {})}
        binned, dropped = _bin(frame, y, list(names), kinds, special_codes, monotonic_trend, min_iv, extra)
        if not binned:
            raise InputError(f"no feature carries information about {label!r} (every one has IV < {min_iv} "
                             f"or one bin): {_reasons_text(dropped)}")
        while True:
            woe = np.column_stack([f.woe_of(f.bin_index(frame[f.name])) for f in binned])
            model = LogisticRegression(C=C, max_iter=1000, random_state=seed).fit(woe, y)
            coefs = model.coef_[0]
            worst = int(np.argmax(coefs))
            if coefs[worst] < 0 or len(binned) == 1:
                break
            dropped[binned[worst].name] = f"coefficient has the wrong sign ({coefs[worst]:+.4f}) beside the others"
            binned.pop(worst)
        if coefs.max() >= 0:
            raise InputError(f"no feature keeps a coefficient with the right sign: {_reasons_text(dropped)}")
        intercept = float(model.intercept_[0])
        calibration, checks = _calibrate(woe, y, C, seed, calibrate)
        fitted = [_with_points(f, float(c), scaling, calibration) for f, c in zip(binned, coefs, strict=True)]
        card = cls(label=label, bad_value=bad_value, features=tuple(fitted), intercept=intercept,
                   calibration=calibration, scaling=scaling, seed=seed, dropped=dict(sorted(dropped.items())))
        pd_train = card.predict_pd(frame)
        card.training = {"rows": int(len(y)), "bads": int(y.sum()), "auc": auc(y, pd_train), "ks": ks(y, pd_train), **checks}
        return card

    # -- applying ------------------------------------------------------------------------------------
    def _check_columns(self, frame: pd.DataFrame) -> None:
        absent = [f.name for f in self.features if f.name not in frame.columns]
        if absent:
            raise InputError(f"data lacks the card's feature column(s): {', '.join(absent)}")

    def bin_indices(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        self._check_columns(frame)
        return {f.name: f.bin_index(frame[f.name]) for f in self.features}

    @property
    def base_score(self) -> float:
        s = self.scaling
        return s.offset - s.factor * (self.calibration["slope"] * self.intercept + self.calibration["intercept"])

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Points per row: base points plus each feature's bin points."""
        indices = self.bin_indices(frame)
        total = np.full(len(frame), self.base_score, dtype=np.float64)
        for f in self.features:
            total += f.points_of(indices[f.name])
        return total

    def predict_pd(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of default per row (the score read back as odds)."""
        return self.pd_of_score(self.score(frame))

    def pd_of_score(self, score: np.ndarray) -> np.ndarray:
        logit_bad = (self.scaling.offset - np.asarray(score, dtype=np.float64)) / self.scaling.factor
        return 1.0 / (1.0 + np.exp(-logit_bad))

    def reasons(self, row_frame: pd.DataFrame, top: int = 4) -> list[Reasons]:
        """Per row: the ``top`` adverse factors (most points lost against the feature's best bin) and
        favourable ones (most points above the training average), each with value, bin and points.
        Ties go by feature name, so the order is stable."""
        indices = self.bin_indices(row_frame)
        features = self.features
        scores = self.score(row_frame)
        pds = self.pd_of_score(scores)
        points = np.column_stack([f.points_of(indices[f.name]) for f in features])
        best = np.asarray([f.max_points for f in features])
        neutral = np.asarray([f.neutral_points for f in features])
        shortfall, gain = best - points, points - neutral
        rank = np.broadcast_to(np.argsort(np.argsort([f.name for f in features], kind="stable")), points.shape)
        adverse_order = np.lexsort((rank, -shortfall), axis=-1)
        favourable_order = np.lexsort((rank, -gain), axis=-1)
        values = [row_frame[f.name].to_numpy(dtype=object) for f in features]

        def reason(row: int, j: int) -> Reason:
            f, i = features[j], int(indices[features[j].name][row])
            label = f.bins[i].label if i >= 0 else "(unseen category)"
            return Reason(f.name, values[j][row], label, float(points[row, j]), float(best[j]), float(neutral[j]))

        out: list[Reasons] = []
        for row in range(len(row_frame)):
            adverse = [reason(row, j) for j in adverse_order[row] if shortfall[row, j] > 1e-9][:top]
            favourable = [reason(row, j) for j in favourable_order[row] if gain[row, j] > 1e-9][:top]
            out.append(Reasons(float(scores[row]), float(pds[row]), tuple(adverse), tuple(favourable)))
        return out

    # -- tables ----------------------------------------------------------------------------------------
    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"{name!r} is not in the card (features: {', '.join(f.name for f in self.features)})")

    def binning_table(self, feature: str) -> pd.DataFrame:
        """Bins of one feature: count, goods, bads, bad rate, WOE, IV, points (a totals row last)."""
        f = self.feature(feature)
        rows = [{"bin": b.label, "kind": b.kind, "count": b.count, "good": b.count - b.bads, "bad": b.bads,
                 "bad_rate": b.bad_rate, "woe": b.woe, "iv": b.iv, "points": p} for b, p in zip(f.bins, f.points, strict=True)]
        total = sum(b.count for b in f.bins)
        bads = sum(b.bads for b in f.bins)
        rows.append({"bin": "total", "kind": "total", "count": total, "good": total - bads, "bad": bads,
                     "bad_rate": bads / total if total else 0.0, "woe": float("nan"), "iv": f.iv, "points": float("nan")})
        return pd.DataFrame(rows)

    def points_table(self) -> pd.DataFrame:
        """Every feature's bins with their points, plus the base points: a row's score is base + its bins."""
        rows: list[dict[str, Any]] = [{"feature": "(base)", "bin": "", "kind": "base", "woe": float("nan"),
                                       "coefficient": float("nan"), "points": self.base_score}]
        for f in self.features:
            rows += [{"feature": f.name, "bin": b.label, "kind": b.kind, "woe": b.woe, "coefficient": f.coefficient,
                      "points": p} for b, p in zip(f.bins, f.points, strict=True)]
        return pd.DataFrame(rows)

    def psi(self, train_frame: pd.DataFrame | None, score_frame: pd.DataFrame) -> dict[str, float]:
        """Population stability index per feature over the card's bins (train_frame None: the training
        counts stored in the card). Below 0.1 stable, 0.1–0.25 shifting, above 0.25 shifted."""
        score_idx = self.bin_indices(score_frame)
        train_idx = self.bin_indices(train_frame) if train_frame is not None else None
        out: dict[str, float] = {}
        for f in self.features:
            n = len(f.bins) + 1  # + unseen
            actual = np.bincount(score_idx[f.name] % n, minlength=n).astype(np.float64)
            if train_idx is None:
                expected = np.asarray([b.count for b in f.bins] + [0], dtype=np.float64)
            else:
                expected = np.bincount(train_idx[f.name] % n, minlength=n).astype(np.float64)
            out[f.name] = psi_of_counts(expected, actual)
        return out

    # -- persistence ------------------------------------------------------------------------------------
    def _content(self) -> dict[str, Any]:
        return {"format": FORMAT, "label": self.label, "bad_value": self.bad_value, "seed": self.seed,
                "scaling": {"pdo": self.scaling.pdo, "base_points": self.scaling.base_points,
                            "base_odds": self.scaling.base_odds},
                "intercept": self.intercept, "calibration": dict(self.calibration),
                "features": [f.to_json() for f in self.features], "dropped": dict(self.dropped),
                "training": self.training}

    @property
    def version(self) -> str:
        """Content hash of the card (16 hex digits): equal cards, equal versions."""
        canonical = json.dumps(self._content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps({**self._content(), "version": self.version}, ensure_ascii=False, indent=1, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, text: str, *, source: str = "card") -> Scorecard:
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise InputError(f"not a chainlight scorecard (expected format {FORMAT!r})", file=source)
            s = data["scaling"]
            card = cls(label=str(data["label"]), bad_value=data["bad_value"],
                       features=tuple(Feature.from_json(f) for f in data["features"]), intercept=float(data["intercept"]),
                       calibration={k: float(v) for k, v in data["calibration"].items()},
                       scaling=Scaling(float(s["pdo"]), float(s["base_points"]), float(s["base_odds"])),
                       seed=int(data["seed"]), dropped=dict(data.get("dropped", {})), training=dict(data.get("training", {})))
        except InputError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"broken scorecard file ({type(exc).__name__}: {exc})", file=source) from exc
        stated = data.get("version")
        if stated is not None and stated != card.version:
            raise InputError(f"scorecard content does not match its version {stated} (edited?)", file=source)
        return card

    @classmethod
    def load(cls, path: str | Path) -> Scorecard:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InputError("scorecard file not found", file=str(path)) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read scorecard file ({exc})", file=str(path)) from exc
        return cls.from_json(text, source=str(path))


# -- fitting helpers -------------------------------------------------------------------------------------
def _reasons_text(dropped: Mapping[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in dropped.items()) or "no features"


def labelled(frame: pd.DataFrame, label: str, bad_value: Any) -> tuple[np.ndarray, pd.DataFrame]:
    """0/1 bad flags for the labelled rows, and those rows (unlabelled rows are left out)."""
    if label not in frame.columns:
        raise InputError(f"label column {label!r} is not in the data (columns: {', '.join(map(str, frame.columns))})")
    texts = labels_as_text(frame[label])
    bad = label_text(bad_value)
    keep = ~pd.isna(texts)
    if not keep.all():
        log.warning("%d rows have no %s label and are left out of the fit", int((~keep).sum()), label)
    y = (texts[keep] == bad).astype(np.int64)
    present = sorted({str(t) for t in pd.unique(texts[keep])})
    if not len(y):
        raise InputError(f"label column {label!r} has no values")
    if len(present) < 2:
        raise InputError(f"label column {label!r} has one class only ({', '.join(present)}); a scorecard needs good and bad")
    if y.sum() == 0:
        raise InputError(f"bad value {bad_value!r} does not occur in label column {label!r} (values: {', '.join(present[:10])})")
    return y, frame.loc[keep].reset_index(drop=True)


def _feature_names(frame: pd.DataFrame, label: str, features: list[str] | None) -> list[str]:
    names = [str(c) for c in frame.columns if c != label] if features is None else list(features)
    absent = [n for n in names if n not in frame.columns]
    if absent:
        raise InputError(f"feature column(s) not in the data: {', '.join(absent)}")
    if label in names:
        raise InputError(f"the label {label!r} cannot also be a feature")
    if not names:
        raise InputError("no feature columns beside the label")
    return names


def _kinds(frame: pd.DataFrame, names: list[str], categorical: list[str] | None) -> dict[str, str]:
    forced = set(categorical or [])
    unknown = sorted(forced - set(names))
    if unknown:
        raise InputError(f"categorical column(s) not among the features: {', '.join(unknown)}")
    return {n: "categorical" if n in forced or not looks_numeric(frame[n]) else "numeric" for n in names}


def _special_for(name: str, special_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None) -> list[Any]:
    if special_codes is None:
        return []
    if isinstance(special_codes, Mapping):
        return list(special_codes.get(name, []))
    return list(special_codes)


def _bin(frame: pd.DataFrame, y: np.ndarray, names: list[str], kinds: dict[str, str],
         special_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None, monotonic_trend: str | Mapping[str, str],
         min_iv: float, extra: Mapping[str, Any]) -> tuple[list[Feature], dict[str, str]]:
    """optbinning's BinningProcess over the features, read back into plain ``Feature`` data.

    A text column with mostly distinct values (an id, a name) is left out rather than binned."""
    from optbinning import BinningProcess

    columns: dict[str, Any] = {}
    params: dict[str, dict[str, Any]] = {}
    specials: dict[str, tuple[Any, ...]] = {}
    trends: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name in list(names):
        if kinds[name] == "categorical":
            distinct = int(pd.Series(as_categories(frame[name])).nunique())
            if distinct > max(50, len(frame) // 2):
                dropped[name] = f"looks like an identifier ({distinct:,} distinct values in {len(frame):,} rows)"
                names.remove(name)
    if not names:
        return [], dropped
    for name in names:
        codes = _special_for(name, special_codes)
        if kinds[name] == "numeric":
            columns[name] = as_numbers(frame[name])
            specials[name] = tuple(float(c) for c in codes if _is_number(c))
            trend = monotonic_trend.get(name, "auto_asc_desc") if isinstance(monotonic_trend, Mapping) else monotonic_trend
            trends[name] = trend
            params[name] = {**{k: v for k, v in extra.items() if k != "cat_cutoff"}, "monotonic_trend": trend}
        else:
            columns[name] = as_categories(frame[name])
            specials[name] = tuple(t for t in (_text(c) for c in codes) if t is not None)
            params[name] = dict(extra)
            shares = pd.Series(columns[name]).value_counts(normalize=True, dropna=True)
            if "cat_cutoff" in extra and (shares.empty or shares.iloc[0] < extra["cat_cutoff"]):
                del params[name]["cat_cutoff"]  # every category is rare: bin them one by one instead
        if specials[name]:
            params[name]["special_codes"] = list(specials[name])
    data = pd.DataFrame(columns)
    process = BinningProcess(names, categorical_variables=[n for n in names if kinds[n] == "categorical"],
                             binning_fit_params=params)
    with warnings.catch_warnings():  # optbinning's totals rows trip a pandas dtype deprecation
        warnings.simplefilter("ignore")
        try:
            process.fit(data, y)
        except ValueError as exc:
            raise InputError(f"binning failed: {exc}") from exc
    binned: list[Feature] = []
    for name in names:
        optb = process.get_binned_variable(name)
        feature = _read_binning(name, kinds[name], optb, specials[name], trends.get(name, ""))
        if feature.n_regular < 2:
            dropped[name] = "one bin only (no split separates goods from bads)"
        elif feature.iv < min_iv:
            dropped[name] = f"information value {feature.iv:.4f} < {min_iv}"
        else:
            binned.append(feature)
    return binned, dropped


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _read_binning(name: str, kind: str, optb: Any, specials: tuple[Any, ...], trend: str) -> Feature:
    """optbinning's binning table → a Feature (regular bins, then one special bin, then missing)."""
    with warnings.catch_warnings():  # optbinning's own totals row trips a pandas dtype deprecation
        warnings.simplefilter("ignore")
        table = optb.binning_table.build(show_digits=6)
    table = table[table.index != "Totals"]
    n_regular = len(table) - 2
    bins: list[Bin] = []
    for i, (_, row) in enumerate(table.iterrows()):
        kind_ = "regular" if i < n_regular else ("special" if i == n_regular else "missing")
        label = _bin_label(kind, optb.splits, i) if kind_ == "regular" else kind_
        bins.append(Bin(label=label, kind=kind_, count=int(row["Count"]),
                        bads=int(row["Event"]), woe=float(row["WoE"]), iv=float(row["IV"])))
    if kind == "numeric":
        return Feature(name, kind, tuple(bins), splits=tuple(float(s) for s in optb.splits), special_codes=specials,
                       monotonic_trend=trend)
    groups = tuple(tuple(str(c) for c in group) for group in optb.splits)
    return Feature(name, kind, tuple(bins), groups=groups, special_codes=specials)


def _bin_label(kind: str, splits: Any, i: int) -> str:
    """Readable bin names: '< 7.5', '[7.5, 11.5)', '>= 43.5'; categories joined by ' | '."""
    if kind == "categorical":
        return " | ".join(str(c) for c in splits[i])
    cuts = [float(s) for s in splits]
    if not cuts:
        return "all"
    if i == 0:
        return f"< {cuts[0]:.6g}"
    if i == len(cuts):
        return f">= {cuts[-1]:.6g}"
    return f"[{cuts[i - 1]:.6g}, {cuts[i]:.6g})"


def _with_points(feature: Feature, coefficient: float, scaling: Scaling, calibration: Mapping[str, float]) -> Feature:
    """Bin points = −factor × slope × coefficient × WOE (the calibrated log-odds share of this feature)."""
    per_woe = -scaling.factor * calibration["slope"] * coefficient
    points = tuple(per_woe * b.woe for b in feature.bins)
    return Feature(feature.name, feature.kind, feature.bins, feature.splits, feature.groups, feature.special_codes,
                   feature.monotonic_trend, coefficient, points)


def _calibrate(woe: np.ndarray, y: np.ndarray, C: float, seed: int, enabled: bool) -> tuple[dict[str, float], dict[str, Any]]:
    """Platt scaling of out-of-fold logits; identity when there are too few bads/goods to fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    identity = {"slope": 1.0, "intercept": 0.0}
    n_splits = int(min(5, y.sum(), len(y) - y.sum()))
    if not enabled or n_splits < 2:
        return identity, {"calibration": "none"}
    oof = np.zeros(len(y))
    for train, test in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(woe, y):
        model = LogisticRegression(C=C, max_iter=1000, random_state=seed).fit(woe[train], y[train])
        oof[test] = model.decision_function(woe[test])
    platt = LogisticRegression(C=1e6, max_iter=1000, random_state=seed).fit(oof.reshape(-1, 1), y)
    calibration = {"slope": float(platt.coef_[0][0]), "intercept": float(platt.intercept_[0])}
    if calibration["slope"] <= 0:  # out-of-fold logits carry no signal: keep the regression as it is
        return identity, {"calibration": "none (out-of-fold slope not positive)"}
    raw = 1.0 / (1.0 + np.exp(-oof))
    calibrated = 1.0 / (1.0 + np.exp(-(calibration["slope"] * oof + calibration["intercept"])))
    return calibration, {"calibration": "platt on out-of-fold logits", "oof_auc": auc(y, oof),
                         "oof_brier_raw": float(np.mean((raw - y) ** 2)),
                         "oof_brier_calibrated": float(np.mean((calibrated - y) ** 2)),
                         "oof_ece_raw": ece(y, raw), "oof_ece_calibrated": ece(y, calibrated)}


# -- metrics -------------------------------------------------------------------------------------------
def auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, score))


def ks(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_curve
    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(tpr - fpr))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-count bins of predicted probability."""
    order = np.argsort(p, kind="stable")
    total = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            total += len(chunk) * abs(float(p[chunk].mean()) - float(y[chunk].mean()))
    return total / len(p)


def psi_of_counts(expected: np.ndarray, actual: np.ndarray, floor: float = 1e-4) -> float:
    """PSI = Σ (a − e) ln(a / e) over bin shares, each share floored so empty bins stay finite."""
    e = np.maximum(expected / max(expected.sum(), 1.0), floor)
    a = np.maximum(actual / max(actual.sum(), 1.0), floor)
    both_empty = (expected == 0) & (actual == 0)
    return float(np.sum(np.where(both_empty, 0.0, (a - e) * np.log(a / e))))


def stratified_folds(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The seeded stratified folds every comparison in this module shares."""
    from sklearn.model_selection import StratifiedKFold
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


# -- cross-validation and the challenger ---------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """Out-of-fold predictions of one model over shared folds."""

    name: str
    fold_aucs: tuple[float, ...]
    oof: np.ndarray = field(repr=False)

    @property
    def mean_auc(self) -> float:
        return float(np.mean(self.fold_aucs))


def cross_validate(frame: pd.DataFrame, label: str, bad_value: Any, *, folds: int = 5, seed: int = 42,
                   **fit_args: Any) -> Evaluation:
    """Stratified k-fold AUC of the card, refitted (binning included) on every training fold.

    Unlabelled rows are left out, as in ``fit``; ``oof`` is aligned with the labelled rows."""
    y, frame = labelled(frame, label, bad_value)
    oof = np.zeros(len(y))
    aucs = []
    for train, test in stratified_folds(y, folds, seed):
        card = Scorecard.fit(frame.iloc[train].reset_index(drop=True), label, bad_value, seed=seed, **fit_args)
        oof[test] = card.predict_pd(frame.iloc[test].reset_index(drop=True))
        aucs.append(auc(y[test], oof[test]))
    return Evaluation("scorecard", tuple(aucs), oof)


def _lgbm_frame(frame: pd.DataFrame, names: list[str], kinds: Mapping[str, str],
                levels: Mapping[str, list[str]]) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for n in names:
        if kinds[n] == "numeric":
            columns[n] = as_numbers(frame[n])
        else:
            columns[n] = pd.Categorical(as_categories(frame[n]), categories=levels[n])
    return pd.DataFrame(columns)


def challenger_model(frame: pd.DataFrame, y: np.ndarray, names: list[str], kinds: Mapping[str, str], seed: int,
                     params: Mapping[str, Any] | None = None) -> Any:
    """A seeded, single-threaded, deterministic LightGBM fitted on ``frame`` (returns a predict function)."""
    import lightgbm

    levels = {n: sorted({t for t in as_categories(frame[n]).tolist() if t is not None})
              for n in names if kinds[n] == "categorical"}
    settings = {"n_estimators": 300, "learning_rate": 0.03, "num_leaves": 8, "min_child_samples": 20,
                "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 1.0,
                "random_state": seed, "deterministic": True, "force_row_wise": True, "num_threads": 1, "verbose": -1,
                **(params or {})}
    model = lightgbm.LGBMClassifier(**settings)
    model.fit(_lgbm_frame(frame, names, kinds, levels), y)

    def predict(other: pd.DataFrame) -> np.ndarray:
        proba = np.asarray(model.predict_proba(_lgbm_frame(other, names, kinds, levels)), dtype=np.float64)
        return proba[:, 1]
    return predict


def fit_challenger(frame: pd.DataFrame, label: str, bad_value: Any, *, features: list[str] | None = None,
                   categorical: list[str] | None = None, folds: int = 5, seed: int = 42,
                   params: Mapping[str, Any] | None = None) -> Evaluation:
    """LightGBM beside the card, on the same seeded stratified folds: out-of-fold PDs and fold AUCs.

    Reported, never deciding: nothing in chainlight reads a challenger's PD to make a decision.
    """
    y, frame = labelled(frame, label, bad_value)
    names = _feature_names(frame, label, features)
    kinds = _kinds(frame, names, categorical)
    oof = np.zeros(len(y))
    aucs = []
    for train, test in stratified_folds(y, folds, seed):
        predict = challenger_model(frame.iloc[train], y[train], names, kinds, seed, params)
        oof[test] = predict(frame.iloc[test])
        aucs.append(auc(y[test], oof[test]))
    return Evaluation("lightgbm challenger", tuple(aucs), oof)


# -- reading a labelled table ------------------------------------------------------------------------------
CSV_SUFFIXES = (".csv", ".tsv", ".txt")


def read_csv(path: str | Path) -> pd.DataFrame:
    """A CSV/TSV (UTF-8 with or without BOM, or GBK/GB18030) as text columns, every row in file order.

    Values stay text so ``scorecard apply`` writes back exactly what it read; the card parses numbers.
    """
    path = Path(path)
    if path.suffix.lower() not in CSV_SUFFIXES:
        raise InputError(f"not a CSV file (suffix {path.suffix or '(none)'}; use .csv or .tsv)", file=str(path))
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False, encoding=encoding)
        except UnicodeDecodeError as exc:
            last = exc
            continue
        except pd.errors.EmptyDataError as exc:
            raise InputError("file is empty (no header line)", file=str(path)) from exc
        except (pd.errors.ParserError, ValueError) as exc:
            raise InputError(f"not a readable CSV ({' '.join(str(exc).split())})", file=str(path)) from exc
        frame.columns = [str(c).strip() for c in frame.columns]
        if len(set(frame.columns)) != len(frame.columns):
            raise InputError("header repeats a column name", file=str(path))
        return frame
    raise InputError(f"text is neither UTF-8 nor GBK/GB18030 ({last})", file=str(path))


def feature_names_of(card: Scorecard) -> list[str]:
    return [f.name for f in card.features]


def iter_bins(card: Scorecard) -> Iterable[tuple[Feature, Bin, float]]:
    for f in card.features:
        for b, p in zip(f.bins, f.points, strict=True):
            yield f, b, p
