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

# --- the structure stage (brand, trade words, place, legal form). Two weight sets, chosen by what the
# caller knows about the mention (``matcher.Context.securities``):
STRUCTURE_L2 = 0.1
MAX_STRUCTURE_BLOCK = 3000  # candidates per brand head before a longer head is used

# General mentions (invoice buyers, patent holders, report text): hand-set, not fit — the real
# development half holds only listed firms (all 股份有限公司), so a fit there learns "the answer is a
# 股份 firm", which is false for an invoice buyer. Checked (not tuned) on the synthetic development
# economy (seed 7): ``chainlight demo --seed 7`` resolve F1.
GENERAL_WEIGHTS: dict[str, float] = {
    "bias": 0.0, "exact_core": 2.0, "head": 1.5, "brand_subset": 1.0, "abbreviation": 0.5, "inside": 0.0,
    "brand_other": -2.0, "coverage": 2.0, "region_agree": 1.5, "region_conflict": -3.0, "form_agree": 2.0,
    "form_conflict": -3.0, "form_dropped": -1.0, "candidate_gufen": 0.0, "candidate_group": -1.0,
    "candidate_branch": -2.0, "context_city": 3.0, "context_partner": 3.0,
}
GENERAL_THRESHOLD = 0.5
GENERAL_MARGIN = 1.0
# A general-mode structure link must be confirmed (``matcher.Resolver._confirmed``): the fuzzy path
# links the same firm or sees none, or the document context backs it, or — the fuzzy path torn between
# firms — an exact core of a registered name leads a rival it weighed by at least this much. Chosen on a
# development sample (20k mentions, reservoir seed 7) of a synthetic 1M-firm standard economy
# (``chainlight synth --firms 1000000``) by replaying per-mention verdicts: grid 3.5/4/4.5/5/inf →
# precision 0.9903/0.9903/0.9904/0.9904/0.9905, recall 0.8038/0.8038/0.8038/0.8034/0.7840 (that replay
# also gated full-name hits and did not yet let links stand when the fuzzy path is unresolved); 4.5 is
# the smallest lead of the best precision at undiminished recall. A link also stands when every firm
# near the fuzzy model's top was weighed (and beaten) by the structure stage — added for real names
# (``bench/real_names.py`` general rows, test half: 0.8991 → 0.9055 correct without distractors, main
# 0.9064; 0.4573 → 0.5022 with, main 0.5091; precision unchanged). The shipped rule, measured by
# ``bench/general_precision.py --economy /tmp/rr_econ1m``: seed 7 precision 0.9895 recall 0.8125,
# confirmed on seed 11: 0.9893 / 0.8169 (the exact+fuzzy path alone: 0.9879 / 0.7492 and 0.9875 /
# 0.7559; the resolver before this gate: 0.9712 / 0.8135 and 0.9724 / 0.8179).
GENERAL_UNCONFIRMED_LEAD = 4.5

# Securities short names (证券简称 in research reports, news, filings — the caller says so): a
# conditional logit fit on the real development half by bench/fit_resolve.py (its output, rounded).
# candidate_gufen is the population prior "a short name in a securities text names a 股份有限公司".
STRUCTURE_WEIGHTS: dict[str, float] = {
    "bias": -4.31, "exact_core": 1.83, "head": 1.67, "brand_subset": 0.61, "abbreviation": -0.67, "inside": -1.61,
    "brand_other": -6.14, "coverage": 1.94, "region_agree": 1.53, "region_conflict": -6.34, "form_agree": 8.6,
    "form_conflict": -1.75, "form_dropped": 4.4, "candidate_gufen": 8.01, "candidate_group": -0.12,
    "candidate_branch": -6.58,
    # not fit (no development mention carries a city or a partner list): set so that either outweighs
    # one legal-form or place disagreement but not two
    "context_city": 3.0, "context_partner": 3.0,
}
THRESHOLD = 0.2   # minimum share of the winner (softmax with a "none of them" alternative at 0)
MARGIN = 1.5      # minimum lead over the runner-up (grid from 1.5 up: bench/fit_resolve.MIN_MARGIN)
