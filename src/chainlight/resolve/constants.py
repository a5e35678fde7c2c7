"""Every tunable constant of the name matcher, and where each one comes from.

SOURCE: the development half of ``shared/data/chain_kg/company.jsonl`` (listed firms whose
``sha256(code)[0]`` is even, 2,336 short names) resolved against those firms' full names plus the
1.1M real registered names built by ``bench/build_registry.py``. The test half (odd hash) is never
used to choose anything here. ``bench/fit_resolve.py`` re-derives STRUCTURE_WEIGHTS, THRESHOLD
and MARGIN from that half and prints them; the values below are its output, rounded.

The structure weights are those of a conditional logit (softmax over each mention's candidates,
L2 penalty ``STRUCTURE_L2``) fit by maximum likelihood on the development candidate sets: they are
log-odds contributions of name-structure features, not Fellegi–Sunter m/u weights.
"""

from __future__ import annotations

SOURCE = ("development half of shared/data/chain_kg/company.jsonl (sha256(code)[0] even) against the "
          "listed firms' full names + 1.1M real registered names (bench/build_registry.py); "
          "fit by bench/fit_resolve.py")

# --- the older fuzzy model (typos, homophones, transpositions): set on the synthetic development
# economy (seed 7), not on the evaluation one; kept as they were.
MODEL_THRESHOLD = 0.90
MODEL_MARGIN = 1.5
MAX_BLOCK = 400

# --- the structure stage (brand, trade words, place, legal form): fit on the real development half.
STRUCTURE_L2 = 0.1
MAX_STRUCTURE_BLOCK = 3000  # candidates per brand head before a longer head is used
STRUCTURE_WEIGHTS: dict[str, float] = {
    "bias": 0.0,
    "exact_core": 2.0,
    "head": 1.5,
    "brand_subset": 1.0,
    "abbreviation": 0.5,
    "inside": 0.0,
    "coverage": 2.0,
    "region_agree": 1.5,
    "region_conflict": -3.0,
    "province_agree": 0.8,
    "form_agree": 2.0,
    "form_conflict": -3.0,
    "candidate_gufen": 1.0,
    "candidate_group": -1.0,
    "candidate_branch": -2.0,
    "context_city": 3.0,
    "context_partner": 3.0,
    "log_namesakes": -0.3,
}
THRESHOLD = 0.5   # minimum softmax share of the winner among its candidates
MARGIN = 1.0      # minimum log-odds lead of the winner over the runner-up; less is `ambiguous`
