"""Fit the structure stage's securities constants on the development half of the real listed companies.

    python bench/fit_resolve.py [--reuse]

Weights: a conditional logit — for each development short name, a softmax over the firms it fits
structurally plus a "none of them" alternative scoring 0 — fit by maximum likelihood with an L2 penalty
(``constants.STRUCTURE_L2``), once against the listed firms' full names alone and once with the
distractor registry, both halves of the likelihood summed. The context weights (document city, known
partners) are not fit: no development mention carries a city or a partner list. Then THRESHOLD and
MARGIN: the pair on a grid that resolves the most development names correctly while precision stays ≥
0.99 in both settings. Prints the values for ``STRUCTURE_WEIGHTS``, ``THRESHOLD`` and ``MARGIN`` in
``resolve/constants.py`` (the weights used when the caller marks a mention as a security's short name).
The test half is never read."""

from __future__ import annotations

import argparse
import math
import pickle
import time

import numpy as np
from _real import REGISTRY, companies, distractors, half, listed_registry
from scipy.optimize import minimize

from chainlight.resolve import constants
from chainlight.resolve.matcher import Context, Match, Resolver, _linear

FIXED = ("context_city", "context_partner")
SECURITIES = Context(securities=True)
FITTED = [k for k in constants.STRUCTURE_WEIGHTS if k not in FIXED]
# development precision floors (without, with distractors): a little above the test goals (0.99, 0.98)
PRECISION_FLOORS = (0.99, 0.985)
# a policy, not a fit: a winner less than e^1.5 ≈ 4.5 times as likely as the runner-up is never linked —
# a short name fitting a listed firm and its parent group about equally stays ambiguous
MIN_MARGIN = 1.5


Case = tuple[str, dict[str, dict[str, float]], Match | None]  # truth, per-firm features, fallback


def cases(resolver: Resolver, rows: list[dict]) -> list[Case]:
    out: list[Case] = []
    for r in rows:
        features = resolver.candidate_features(r["name"], SECURITIES)
        out.append((r["code"], features, None if features else resolver.resolve_fuzzy(r["name"])))
    return out


def fit(all_cases: list[Case]) -> dict[str, float]:
    """Maximum-likelihood conditional logit with a null alternative (scipy L-BFGS)."""
    blocks = []
    for truth, features, _ in all_cases:
        if not features:
            continue
        firms = sorted(features)
        matrix = np.array([[features[f].get(k, 0.0) for k in FITTED] for f in firms])
        label = firms.index(truth) if truth in features else -1
        blocks.append((matrix, label))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = constants.STRUCTURE_L2 * float(w @ w), 2 * constants.STRUCTURE_L2 * w
        for matrix, label in blocks:
            scores = matrix @ w
            top = max(0.0, float(scores.max()))
            exp = np.exp(scores - top)
            norm = math.exp(-top) + float(exp.sum())
            probs = exp / norm
            total += top + math.log(norm) - (float(scores[label]) if label >= 0 else 0.0)
            grad = grad + probs @ matrix - (matrix[label] if label >= 0 else 0.0)
        return total, grad

    start = np.array([constants.STRUCTURE_WEIGHTS[k] for k in FITTED])
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return {k: round(float(v), 2) for k, v in zip(FITTED, result.x, strict=True)}


def summaries(case_list: list[Case], weights: dict[str, float]) -> np.ndarray:
    """Per name: (lead of the best firm over the runner-up, its share, it is the truth); a name decided
    by the fallback gets an infinite lead, share 1 when it linked (0 when not) and its own correctness."""
    out = []
    for truth, features, fallback in case_list:
        if features:
            ranked = sorted(((_linear(f, weights), u) for u, f in features.items()), key=lambda s: (-s[0], s[1]))
            top, uscc = ranked[0]
            lead = top - ranked[1][0] if len(ranked) > 1 else math.inf
            share = math.exp(top) / (1.0 + sum(math.exp(s) for s, _ in ranked))
            out.append((lead, share, uscc == truth))
        else:
            assert fallback is not None
            out.append((math.inf, 1.0 if fallback.uscc else 0.0, fallback.uscc == truth))
    return np.array(out, dtype=float)


def figures(summary: np.ndarray, threshold: float, margin: float) -> tuple[int, int]:
    """(linked, correct) under these constants: the same rule as ``matcher.decide``."""
    linked = (summary[:, 0] >= margin) & (summary[:, 1] >= threshold)
    return int(linked.sum()), int((linked & (summary[:, 2] > 0)).sum())


CACHE = REGISTRY.parent / "fit_cases.pickle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help=f"reuse the candidate sets saved in {CACHE}")
    args = parser.parse_args()
    rows = companies()
    dev = [r for r in rows if half(r["code"]) == "dev"]
    start = time.perf_counter()
    if args.reuse and CACHE.exists():
        small, big = pickle.loads(CACHE.read_bytes())
    else:
        names, cities = distractors()
        small = cases(Resolver(listed_registry(rows)), dev)
        big = cases(Resolver(listed_registry(rows) + names, cities), dev)
        CACHE.write_bytes(pickle.dumps((small, big)))
    print(f"development names {len(dev):,}; candidate sets ready in {time.perf_counter() - start:.0f} s", flush=True)
    weights = {**constants.STRUCTURE_WEIGHTS, **fit(small + big)}
    summary = {"without distractors": summaries(small, weights), "with distractors": summaries(big, weights)}
    best: tuple[int, float, float] | None = None
    for threshold in [x / 20 for x in range(2, 20)]:
        for margin in [x / 4 for x in range(int(MIN_MARGIN * 4), 21)]:
            results = [figures(part, threshold, margin) for part in summary.values()]
            if all(made and correct / made >= floor for (made, correct), floor in zip(results, PRECISION_FLOORS,
                                                                                       strict=True)):
                total = sum(correct for _, correct in results)
                if best is None or total > best[0]:
                    best = (total, threshold, margin)
    if best is None:
        raise SystemExit(f"no threshold/margin reaches precision {PRECISION_FLOORS} on the development half")
    _, threshold, margin = best
    for label, part in summary.items():
        made, correct = figures(part, threshold, margin)
        print(f"dev {label:20s} correct {correct / len(part):.4f}  precision {correct / max(made, 1):.4f}")
    print("STRUCTURE_WEIGHTS = {" + ", ".join(f'"{k}": {v}' for k, v in weights.items()) + "}")
    print(f"THRESHOLD = {threshold}\nMARGIN = {margin}", flush=True)


if __name__ == "__main__":
    main()
