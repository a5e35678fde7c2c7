"""Credit outcomes from latent health: bureau records, loan applications, and defaults within 12 months.

standard: logit PD = α − 0.9·h_t − 0.7·[≥ 2 stable ties to large firms], h_t = h + 0.35·ε; the bureau
reads health closely. blind: see ``blind``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from chainlight.synth.firms import Firms

OBSERVATION_DATES = [np.datetime64(d) for d in ("2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31",
                                                "2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31")]
BASE_DEFAULT_RATE = 0.04
CreditTables = tuple[pa.Table, pa.Table, pa.Table, np.ndarray]


def _alpha(signal: np.ndarray, sme: np.ndarray, rate_goal: float) -> float:
    """The intercept that makes the mean SME default rate ``rate_goal`` (bisection)."""
    low, high = -10.0, 0.0
    for _ in range(50):
        alpha = (low + high) / 2
        rate = 1 / (1 + np.exp(-(alpha + signal[:, sme])))
        low, high = (alpha, high) if rate.mean() < rate_goal else (low, alpha)
    return alpha


def _bureau(world: Firms, overdue: np.ndarray, litigation: float, arrears: float, blacklist: float,
            rng: np.random.Generator) -> pa.Table:
    """Bureau records; the three rates scale how strongly litigations, arrears and blacklisting follow health."""
    n = world.count
    return pa.table({
        "uscc": world.uscc, "max_overdue_days": overdue.astype(np.int32),
        "open_litigations": rng.poisson(0.15 * np.exp(-litigation * world.health)).astype(np.int32),
        "tax_arrears": rng.random(n) < 0.03 * np.exp(-arrears * world.health),
        "blacklisted": rng.random(n) < 0.004 * np.exp(-blacklist * world.health)})


def _applications_and_outcomes(world: Firms, defaulted: np.ndarray, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    n = world.count
    sme = ~world.is_anchor
    applicants = np.nonzero(sme & (rng.random(n) < 0.08))[0]
    applicants = np.union1d(applicants, [0])
    amount = np.maximum(np.round(world.turnover[applicants] * rng.uniform(0.05, 0.25, len(applicants)), -4), 50_000)
    applied = np.datetime64("2026-01-05T09:00:00") + rng.integers(0, 80 * 24 * 60, len(applicants)).astype(
        "timedelta64[m]")
    applications = pa.table({"application_id": [f"APP{k:08d}" for k in range(len(applicants))],
                             "uscc": world.uscc[applicants], "amount": amount,
                             "applied_at": pa.array(applied.astype("datetime64[s]"))})
    firms_idx = np.nonzero(sme)[0]
    outcomes = pa.table({
        "uscc": np.tile(world.uscc[firms_idx], len(OBSERVATION_DATES)),
        "observed_at": pa.array(np.repeat(np.array(OBSERVATION_DATES, "datetime64[D]"), len(firms_idx))),
        "defaulted_12m": defaulted[:, firms_idx].reshape(-1)})
    return applications, outcomes


def standard(world: Firms, stable_ties: np.ndarray, rng: np.random.Generator) -> CreditTables:
    n = world.count
    tied = stable_ties >= 2
    health_t = world.health[None, :] + 0.35 * rng.normal(size=(len(OBSERVATION_DATES), n))
    signal = -0.9 * health_t - 0.7 * tied[None, :]
    alpha = _alpha(signal, ~world.is_anchor, BASE_DEFAULT_RATE)
    pd_t = 1 / (1 + np.exp(-(alpha + signal)))
    defaulted = rng.random(pd_t.shape) < pd_t

    overdue_p = 1 / (1 + np.exp(2.5 + 1.0 * world.health + rng.normal(0, 0.8, n)))
    overdue = np.where(rng.random(n) < overdue_p, rng.choice([15, 30, 60, 90, 180], n), 0)
    bureau = _bureau(world, overdue, 0.6, 0.7, 1.0, rng)
    applications, outcomes = _applications_and_outcomes(world, defaulted, rng)
    return bureau, applications, outcomes, pd_t.mean(axis=0)


# blind: effect sizes (see ``blind``)
BLIND_BASE_RATE = 0.03
BLIND_HEALTH = 1.1  # logit per σ of current health
BLIND_HEALTH_DRIFT = 0.4  # h_t = h + drift·ε_t: health moves between observation dates
BLIND_SHOCK = 0.5  # σ of a firm-date shock no data shows (fraud, a key person, a flood)
BLIND_TIE = 0.45  # logit per stable large-customer tie, up to BLIND_TIE_CAP ties
BLIND_TIE_CAP = 2


def blind(world: Firms, stable_ties: np.ndarray, rng: np.random.Generator) -> CreditTables:
    """Defaults with effect sizes set from published magnitudes, and a bureau that sees health only dimly.

    logit PD = α − 0.75·h_t − 0.17·min(ties, 4) + ν, h_t = h + 0.6·ε_t, ν ~ N(0, 0.9) per firm and date,
    α so the mean SME rate is 3%. The figures it is calibrated to:
    - a mean SME default rate of a few percent: the NPL ratio Chinese regulators report for inclusive
      small and micro loans has been around 2–3% in recent years (3% here);
    - an application scorecard on registry and bureau data ranks SMEs with an AUC of about 0.65–0.75 (the
      range the issue asks for, and the common range reported for SME scorecards without financials);
    - firms with stable ties to 4+ large customers default at about half the base rate (the issue's figure
      for trade-tie information): the direct tie term gives odds × e^(−0.68) ≈ 0.51 at 4 ties, before the
      health that also wins those ties.
    Measured on 20k firms, seed 42 (tests/synth/test_blind.py checks the ranges): see the module's
    ``MEASURED`` note in the synth package docstring.
    """
    n = world.count
    dates = len(OBSERVATION_DATES)
    health_t = world.health[None, :] + BLIND_HEALTH_DRIFT * rng.normal(size=(dates, n))
    ties = np.minimum(stable_ties, BLIND_TIE_CAP)
    signal = -BLIND_HEALTH * health_t - BLIND_TIE * ties[None, :] + BLIND_SHOCK * rng.normal(size=(dates, n))
    alpha = _alpha(signal, ~world.is_anchor, BLIND_BASE_RATE)
    pd_t = 1 / (1 + np.exp(-(alpha + signal)))
    defaulted = rng.random(pd_t.shape) < pd_t

    overdue_p = 1 / (1 + np.exp(1.8 + 1.6 * world.health + rng.normal(0, 0.6, n)))
    overdue = np.where(rng.random(n) < overdue_p, rng.choice([15, 30, 60, 90, 180], n), 0)
    bureau = _bureau(world, overdue, 0.8, 0.9, 1.0, rng)
    applications, outcomes = _applications_and_outcomes(world, defaulted, rng)
    return bureau, applications, outcomes, pd_t.mean(axis=0)
