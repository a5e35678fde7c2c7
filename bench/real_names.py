"""Real short names (简称) of listed companies resolved against their registered full names alone.

    python bench/real_names.py [--data ../shared/data/chain_kg]

Prints accuracy (correct / all), precision (correct / resolved) and resolution rate at the shipped
threshold; goal: precision ≥ 0.97 with ≥ 0.85 resolved correctly. No alias table is used.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from chainlight.resolve.matcher import Resolver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "chain_kg")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (args.data / "company.jsonl").read_text(encoding="utf-8").splitlines()]
    start = time.perf_counter()
    resolver = Resolver([(r["code"], r["fullname"], "registered") for r in rows if r.get("fullname")])
    matches = [resolver.resolve(r["name"]) for r in rows]
    seconds = time.perf_counter() - start
    made = [(m, r) for m, r in zip(matches, rows, strict=True) if m.uscc]
    correct = sum(m.uscc == r["code"] for m, r in made)
    print(f"companies {len(rows):,}  resolved {len(made):,}  correct {correct:,}  ({seconds:.2f} s)")
    print(f"accuracy (correct / all)       {correct / len(rows):.4f}   goal >= 0.85")
    print(f"precision (correct / resolved) {correct / len(made):.4f}   goal >= 0.97")
    print("methods:", dict(Counter(m.method for m in matches)))


if __name__ == "__main__":
    main()
