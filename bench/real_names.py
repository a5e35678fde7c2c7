"""Real short names (简称) of listed companies resolved against registered full names — on the fixed
development and test halves, without and with the distractor registry of real registered names,
beside a rapidfuzz baseline run in the same process.

    python bench/build_registry.py        # once: the distractor registry, into ~/.cache/chainlight/registry
    python bench/real_names.py [--baseline-sample 200]

Correct = linked to the right firm / all names; precision = correct / linked. Goals on the test half:
with the distractors, precision ≥ 0.98 and ≥ 0.75 correct; without, ≥ 0.92 correct at precision ≥ 0.99.
No alias table is used. The names are resolved as securities short names (``Context(securities=True)``:
the weights fit by ``bench/fit_resolve.py`` on the development half); the "no securities context" rows
use the general hand-set weights that invoices and patents get. The baseline is rapidfuzz's best match
(``process.extractOne``, WRatio) over the same full names, answering only at score ≥ 90; against the
1.1M-name registry it costs about a second a name, so there it runs on a seeded sample of the test half
(``--baseline-sample``)."""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections import Counter

from _real import DATA, companies, distractors, half, listed_registry
from rapidfuzz import fuzz, process

from chainlight.resolve.matcher import Context, Match, Resolver

SECURITIES = Context(securities=True)


def report(label: str, rows: list[dict], matches: list[Match | str | None]) -> None:
    links = [m.uscc if isinstance(m, Match) else m for m in matches]
    made = sum(1 for u in links if u)
    correct = sum(u == r["code"] for u, r in zip(links, rows, strict=True) if u)
    methods = Counter(m.method for m in matches if isinstance(m, Match))
    ambiguous = f"  ambiguous {methods['ambiguous']:,}" if methods else ""
    print(f"  {label:42s} n {len(rows):5,}  correct {correct / len(rows):.4f}  "
          f"precision {correct / max(made, 1):.4f}  linked {made:,}{ambiguous}")


def baseline(rows: list[dict], choices: list[str], keys: list[str]) -> list[str | None]:
    found = []
    for r in rows:
        hit = process.extractOne(r["name"], choices, scorer=fuzz.WRatio, score_cutoff=90)
        found.append(keys[hit[2]] if hit else None)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--baseline-sample", type=int, default=200)
    args = parser.parse_args()
    rows = companies(args.data)
    halves = {h: [r for r in rows if half(r["code"]) == h] for h in ("dev", "test")}
    listed = listed_registry(rows)
    names, cities = distractors()
    start = time.perf_counter()
    small = Resolver(listed)
    big = Resolver(listed + names, cities)
    print(f"listed firms {len(listed):,}; distractor names {len(names):,}; indexes built in "
          f"{time.perf_counter() - start:.0f} s")
    for setting, resolver, registry in (("without distractors", small, listed), ("with distractors", big, listed + names)):
        print(f"{setting} (registry {len(registry):,} names)")
        for h, part in halves.items():
            report(f"chainlight  {h}", part, [resolver.resolve(r["name"], SECURITIES) for r in part])
        for h, part in halves.items():
            report(f"chainlight  {h}, no securities context", part, [resolver.resolve(r["name"]) for r in part])
        keys, choices = [u for u, _, _ in registry], [n for _, n, _ in registry]
        test = halves["test"]
        if setting == "with distractors":
            test = random.Random(7).sample(test, min(args.baseline_sample, len(test)))
        report(f"rapidfuzz WRatio>=90  test{' sample' if len(test) < len(halves['test']) else ''}", test,
               list(baseline(test, choices, keys)))
        if setting == "with distractors":
            report("chainlight  same test sample", test, [resolver.resolve(r["name"], SECURITIES) for r in test])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MB; total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
