"""General-mode resolution precision on samples of a large synthetic economy: the full resolver
(structure stage + confirmation) against the old exact+fuzzy path alone, on the same index.

    PYTHONPATH=src python bench/general_precision.py --economy /tmp/rr_econ1m --seeds 7 11

The economy is ``chainlight synth --out DIR --firms 1000000`` (standard profile); truth from
``DIR/truth/mentions.parquet``. Seed 7 is the development sample GENERAL_UNCONFIRMED_LEAD was chosen
on; any other seed confirms. Precision = right links / links; recall = right links / mentions.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import duckdb
from resolve import economy_registry  # bench/resolve.py (the script's folder is on the path)

from chainlight.resolve.matcher import Match, Resolver


def _figures(verdicts: Counter[tuple[str, str]], mentions: int) -> str:
    made = sum(v for (_, s), v in verdicts.items() if s != "none")
    right = sum(v for (_, s), v in verdicts.items() if s == "ok")
    precision, recall = right / max(made, 1), right / max(mentions, 1)
    wrong = {m: v for (m, s), v in sorted(verdicts.items()) if s == "wrong"}
    return f"precision {precision:.4f} recall {recall:.4f} wrong {made - right} by method {wrong}"


def _outcome(match: Match, truth: str) -> str:
    return "none" if match.uscc is None else ("ok" if match.uscc == truth else "wrong")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--economy", required=True)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    args = parser.parse_args()
    con = duckdb.connect()
    e = args.economy
    registry = economy_registry(con, e)
    started = time.time()
    resolver = Resolver(registry)
    print(f"index over {len(registry):,} names: {time.time() - started:.0f} s", flush=True)
    for seed in args.seeds:
        sample = con.sql(f"SELECT name_as_written, true_uscc FROM '{e}/truth/mentions.parquet' "
                         f"USING SAMPLE reservoir({args.sample} ROWS) REPEATABLE ({seed})").fetchall()
        full: Counter[tuple[str, str]] = Counter()
        old: Counter[tuple[str, str]] = Counter()
        for name, truth in sample:
            m, f = resolver.resolve(name), resolver.resolve_fuzzy(name)
            full[(m.method, _outcome(m, truth))] += 1
            old[(f.method, _outcome(f, truth))] += 1
        print(f"seed {seed} n {len(sample):,}\n  full resolver   {_figures(full, len(sample))}"
              f"\n  exact+fuzzy     {_figures(old, len(sample))}", flush=True)


if __name__ == "__main__":
    main()
