"""Shenwan industries of real listed companies from their main products and names (chain_kg data).

    python bench/real_chain_kg.py --data ../shared/data/chain_kg --out /tmp/chain_kg_labels.csv

Prints 5-fold cross-validated accuracy on the labelled companies (top-1 and top-3 at level 3, top-1
at level 1; overall and split by whether the company has a product list) for the model and for a
names-only baseline, then fits on every labelled company and writes, for each company without a label,
``company_code,top1_industry_code,top3_industry_codes`` (top 3 joined by ``|``). No company's own label
is used to score it. Goals: top-1 ≥ 0.60 at level 3 and ≥ 0.80 at level 1.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from chainlight.errors import InputError
from chainlight.research.industry import ChainKG, cross_validate, label_unlabelled, write_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "chain_kg")
    parser.add_argument("--out", type=Path, required=True, help="CSV of labels for the unlabelled companies")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    try:
        kg = ChainKG.load(args.data)
    except InputError as exc:  # a missing or broken file: one line naming it, no traceback
        raise SystemExit(f"error: {exc}") from None
    with_products = sum(bool(c.products) for c in kg.companies.values())
    print(f"companies {len(kg.companies):,} (with products {with_products:,}), labelled {len(kg.labels):,}, "
          f"unlabelled {len(kg.unlabelled()):,}, level-3 classes {len(set(kg.labels.values()))}")
    print(f"{'model':<11} {'subset':<17} {'n':>5}  {'L3 top-1':>8}  {'L3 top-3':>8}  {'L1 top-1':>8}")
    for model, use_products in (("products", True), ("names only", False)):
        for subset, accuracy in cross_validate(kg, folds=args.folds, use_products=use_products).items():
            print(f"{model:<11} {subset:<17} {accuracy.companies:>5}  {accuracy.top1_level3:>8.3f}  "
                  f"{accuracy.top3_level3:>8.3f}  {accuracy.top1_level1:>8.3f}")
    rows = label_unlabelled(kg)
    write_labels(rows, args.out)
    print(f"wrote {len(rows):,} rows to {args.out} in {time.perf_counter() - start:.1f} s "
          f"(goal: L3 top-1 >= 0.60, L1 top-1 >= 0.80)")


if __name__ == "__main__":
    main()
