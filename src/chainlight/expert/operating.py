"""The operating score: 0–100 per firm from hard data only, with its signed reasons.

A feature for the risk engine, not a decision. Each indicator below is standardised robustly over the
firms of the workspace (median and 1.4826·MAD, clipped to ±3) and carries the sign credit reasoning
gives it. The signed weights vᵢ come from one of two documented constructions (never from any truth):

- ``outcomes`` (the default when the workspace has enough labelled history): a logistic regression
  of ``outcomes.defaulted_12m`` — the training labels a bank has — on the indicators computed
  *point in time*, from the invoices up to each observation date, for observation dates up to
  ``expert.train_until`` only (later dates are left for evaluating the risk engine). vᵢ = −βᵢ; an
  indicator whose fitted sign contradicts credit reasoning gets weight 0 (a monotone constraint, as in
  scorecards) and the rest are refitted. The chain-position indicators (``control``: anchor flow,
  stable ties to large buyers) enter this regression as controls and then get weight 0: a place on a
  financed chain lowers default directly (an anchor's support, not the firm's own operations), so left
  out of the fit it would bias the operating weights, and left in the score it would make the score
  partly a position measure — which the risk engine already reads from its own features (hops, anchor
  share, large ties). The profile still reports position.
- ``prior`` (fallback: no or too few labels): the fixed weights below, set in advance by how
  directly each indicator speaks to operating health (0 for the position controls).

    score = clip(50 + 15 · Σ vᵢ·zᵢ / √Σ vᵢ², 0, 100)

so that, with independent indicators, the score has mean 50 and standard deviation 15. Each
indicator's contribution in score points is 15·vᵢ·zᵢ/√Σvᵢ², so the points of all reasons add up to
score − 50 (before clipping). A missing indicator contributes 0 (the firm is held at the median on it).

The inputs are invoices, supply edges and graph features only: report text (trends, claims, praise)
never reaches this module, so nothing a report says can move a score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

# Recent movement (a firm in trouble sells less before it defaults): the last RECENT_MONTHS of invoices
# against the 18 − RECENT_MONTHS months before. RECENT_PRIOR: the precision weight (invoice pairs) at which
# half of a firm's order-size change is believed (noise of a log amount ~0.3² over a plausible spread of
# true changes ~0.1² ≈ 9). Shared with the risk engine's features.
RECENT_MONTHS = 6
RECENT_PRIOR = 9.0
MIN_DEFAULTS = 30  # fewer labelled defaults than this and the prior weights are used
BASE, SPREAD, CLIP_Z, TOP_REASONS = 50.0, 15.0, 3.0, 5


@dataclass(frozen=True)
class Indicator:
    code: str  # reason code, stable for the risk engine
    column: str  # column of the indicator table
    sign: int  # +1: more is healthier; -1: more is riskier
    weight: float
    why: str
    control: bool = False  # chain position: fitted beside the rest so their weights are not confounded, not scored


INDICATORS: tuple[Indicator, ...] = (
    Indicator("like_for_like_growth", "excess_growth", +1, 1.0,
              "sales growth within continuing customer relationships, beyond what the same markets grew: "
              "the firm winning share is healthy, losing it is the earliest sign of trouble"),
    Indicator("revenue_growth_yoy", "log_growth_yoy", +1, 0.5,
              "trailing-12-month revenue against the 12 months before (seasonally neutral); noisier, so half weight"),
    Indicator("revenue_volatility", "volatility", -1, 0.5,
              "the coefficient of variation of seasonally adjusted quarterly revenue: unsteady cash inflow is risk"),
    Indicator("customer_churn", "churn_rate", -1, 1.0,
              "the share of supply customers lost (unseen for the churn gap): losing customers precedes distress"),
    Indicator("new_customers", "new_customer_rate", +1, 0.25,
              "the share of customers won in the last 12 months: the firm can still sell"),
    Indicator("customer_concentration", "customer_hhi", -1, 0.5,
              "Herfindahl index of sales over customers: dependence on few buyers"),
    Indicator("invoice_voids", "void_rate", -1, 0.5,
              "the share of invoices voided: disputes, returns and loose billing"),
    Indicator("relationship_stability", "relationship_stability", +1, 0.75,
              "sales-weighted steadiness of customer relationships (active months and evenness)"),
    Indicator("order_size_change", "order_size_change", +1, 1.0,
              "orders from the same customers in the last months against the year before (seasonally adjusted): "
              "a firm in trouble sells less before it fails"),
    Indicator("order_rate_change", "order_rate_change", +1, 0.5,
              "invoices a month lately against before: fewer orders are the other half of falling sales"),
    Indicator("recent_churn", "recent_churn", -1, 0.75,
              "the share of last year's customers that bought nothing lately: buyers leave a struggling supplier"),
    Indicator("anchor_flow", "anchor_flow_share", +1, 0.5,
              "the share of sales that ends at the chain's anchor enterprises: a place on a financed chain", True),
    Indicator("stable_large_ties", "log_stable_ties", +1, 0.5,
              "lasting, steady ties to large buyers or anchors (log 1 + count)", True),
)
PRIOR = {i.code: 0.0 if i.control else i.sign * i.weight for i in INDICATORS}

REASON = pa.struct([("code", pa.string()), ("points", pa.float64()), ("value", pa.float64())])
SCORE_SCHEMA = pa.schema([("uscc", pa.string()), ("score", pa.float64()), ("coverage", pa.float64()),
                          ("reasons", pa.list_(REASON)), ("method", pa.string())])


@dataclass(frozen=True)
class Scale:
    center: float
    spread: float


@dataclass(frozen=True)
class ScoreModel:
    """Signed weights per indicator code, the scales of this workspace, and how the weights were made."""

    weights: Mapping[str, float]
    scales: Mapping[str, Scale]
    method: str

    @property
    def norm(self) -> float:
        return math.sqrt(sum(w * w for w in self.weights.values())) or 1.0


def scale_from_stats(center: float | None, mad: float | None, sd: float | None) -> Scale:
    """The robust spread, or the standard deviation where the MAD is 0 (most firms share one value)."""
    spread = mad if mad and mad > 1e-12 else sd if sd and sd > 1e-12 else 1.0
    return Scale(float(center or 0.0), float(spread))


def _column(batch: pa.RecordBatch | pa.Table, name: str) -> np.ndarray:
    return np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=float)


def standardised(batch: pa.RecordBatch | pa.Table, scales: Mapping[str, Scale]) -> tuple[np.ndarray, np.ndarray]:
    """(z per firm × indicator, 0 where missing; raw values, NaN where missing)."""
    values = np.column_stack([_column(batch, ind.column) for ind in INDICATORS]) if batch.num_rows else \
        np.zeros((0, len(INDICATORS)))
    centers = np.array([scales[i.code].center for i in INDICATORS])
    spreads = np.array([scales[i.code].spread for i in INDICATORS])
    z = np.clip((values - centers) / spreads, -CLIP_Z, CLIP_Z)
    return np.where(np.isnan(values), 0.0, z), values


def fit_weights(z: np.ndarray, defaulted: np.ndarray) -> dict[str, float] | None:
    """Signed weights from labelled defaults (vᵢ = −βᵢ), wrong-signed indicators set to 0 and refitted, the
    chain-position controls fitted and then given weight 0; None when there are too few defaults to fit."""
    from sklearn.linear_model import LogisticRegression

    if int(defaulted.sum()) < MIN_DEFAULTS or int((~defaulted).sum()) < MIN_DEFAULTS:
        return None
    signs = np.array([i.sign for i in INDICATORS], dtype=float)
    active = np.ones(len(INDICATORS), bool)
    weights = np.zeros(len(INDICATORS))
    while active.any():
        model = LogisticRegression(C=1.0, max_iter=1000).fit(z[:, active], defaulted)
        v = -model.coef_[0]
        wrong = np.sign(v) != signs[active]
        if not wrong.any():
            weights[active] = v
            break
        active[np.nonzero(active)[0][wrong]] = False
    return {ind.code: 0.0 if ind.control else round(float(w), 6) for ind, w in zip(INDICATORS, weights, strict=True)}


def contributions(batch: pa.RecordBatch, model: ScoreModel) -> tuple[np.ndarray, np.ndarray]:
    """(points per firm × indicator, raw values): the signed contribution of each indicator in score points."""
    z, values = standardised(batch, model.scales)
    v = np.array([model.weights[i.code] for i in INDICATORS])
    return SPREAD * z * v / model.norm, values


def score_batch(batch: pa.RecordBatch, model: ScoreModel) -> pa.RecordBatch:
    """Indicator rows in, (uscc, score, coverage, reasons, method) out: an Arrow batch → batch function,
    so DuckDB runs it in-process and Spark can run it under ``mapInArrow`` with ``model`` broadcast."""
    points, values = contributions(batch, model)
    present = ~np.isnan(values)
    weights = np.abs(np.array([model.weights[i.code] for i in INDICATORS]))
    coverage = np.round(present @ weights / (weights.sum() or 1.0), 4)
    score = np.round(np.clip(BASE + points.sum(axis=1), 0.0, 100.0), 4)
    rounded = np.round(points, 4)
    order = np.argsort(-np.abs(rounded), axis=1, kind="stable")[:, :TOP_REASONS]
    rows = np.repeat(np.arange(batch.num_rows), order.shape[1])
    picked = order.reshape(-1)
    keep = rounded[rows, picked] != 0.0
    rows, picked = rows[keep], picked[keep]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=batch.num_rows))]).astype(np.int32)
    value = np.round(values[rows, picked], 6)
    reasons = pa.ListArray.from_arrays(pa.array(offsets), pa.StructArray.from_arrays(
        [pa.array(np.array([i.code for i in INDICATORS], dtype=object)[picked], pa.string()),
         pa.array(rounded[rows, picked]), pa.array(value, mask=np.isnan(value))], fields=list(REASON)))
    return pa.RecordBatch.from_arrays([
        batch.column("uscc"), pa.array(score), pa.array(coverage), reasons,
        pa.array([model.method] * batch.num_rows, pa.string())], schema=SCORE_SCHEMA)
