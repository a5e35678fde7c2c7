"""Entity resolution at scale: N mentions against a registry of M firms — time, peak memory, F1 —
and, in the same run on a subset, a plain splink 4 (DuckDB) setup as the reference.

    python bench/resolve.py --economy DIR [--mentions 1000000] [--subset 100000]

DIR is a synthetic economy (``chainlight synth --out DIR --firms 1000000``). Mentions are sampled
(seeded) from its truth; the registry is its enterprises plus aliases. Goal: 1M against 1M in ≤ 3
minutes and ≤ 8 GB on 2 cores, F1 at least splink's.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import duckdb

from chainlight.resolve import resolve_all
from chainlight.resolve.matcher import Resolver
from chainlight.resolve.normalise import normalise


def f1(pred: dict[str, str | None], truth: dict[str, str | None]) -> tuple[float, float, float]:
    made = [m for m, u in pred.items() if u]
    correct = sum(pred[m] == truth[m] for m in made)
    positives = sum(1 for u in truth.values() if u)
    p, r = correct / max(len(made), 1), correct / max(positives, 1)
    return p, r, 2 * p * r / max(p + r, 1e-9)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the fork workers): on a shared machine the
    wall time depends on the neighbours, this does not."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def ours(registry: list[tuple[str, str, str]], mentions: list[tuple[str, str, str | None]],
         timings: dict[str, float] | None = None) -> tuple[dict, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
    resolver = Resolver(registry)
    built, built_cpu = time.perf_counter(), cpu_seconds()
    names = sorted({n for _, n, _ in mentions})
    decided = {name: match.uscc for name, match in zip(names, resolve_all(resolver, names), strict=True)}
    end = time.perf_counter()
    if timings is not None:
        timings.update(build=built - start, build_cpu=built_cpu - cpu, resolve=end - built,
                       resolve_cpu=cpu_seconds() - built_cpu)
    return {m: decided[n] for m, n, _ in mentions}, end - start


def splink_reference(registry: list[tuple[str, str, str]], mentions: list[tuple[str, str, str | None]]
                     ) -> tuple[dict, float]:
    """splink 4 on the same normalised fields: core name (Jaro–Winkler levels), region; blocked on the core's head."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    def frame(rows: list[tuple[str, str]], prefix: str) -> pd.DataFrame:
        parts = [normalise(name) for _, name in rows]
        return pd.DataFrame({"unique_id": [f"{prefix}{i}" for i in range(len(rows))], "key": [k for k, _ in rows],
                             "core": [p.core for p in parts], "region": [p.region or None for p in parts],
                             "head": [p.core[:2] for p in parts]})

    start = time.perf_counter()
    left = frame([(m, n) for m, n, _ in mentions], "m")
    right = frame([(u, n) for u, n, _ in registry], "r")
    settings = SettingsCreator(link_type="link_only", comparisons=[
        cl.JaroWinklerAtThresholds("core", [0.97, 0.9, 0.8]), cl.ExactMatch("region")],
        blocking_rules_to_generate_predictions=[block_on("head")])
    linker = Linker([left, right], settings, db_api=DuckDBAPI())
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("head"))
    predictions = linker.inference.predict(threshold_match_probability=0.9).as_pandas_dataframe()
    predictions = predictions.sort_values(["unique_id_l", "match_probability"], ascending=[True, False])
    best: dict[str, str | None] = {}
    for uid, group in predictions.groupby("unique_id_l"):
        top = group.iloc[0]
        tie = len(group) > 1 and group.iloc[1]["match_probability"] >= top["match_probability"] - 1e-9
        best[uid] = None if tie else right.loc[right.unique_id == top["unique_id_r"], "key"].iloc[0]
    pred = {left.key.iloc[i]: best.get(f"m{i}") for i in range(len(left))}
    return pred, time.perf_counter() - start


def economy_registry(con: duckdb.DuckDBPyConnection, economy: Path | str) -> list[tuple[str, str, str]]:
    """(uscc, name, kind) for every registered name and alias of a synthetic economy."""
    return [(u, n, k) for u, n, k in con.sql(
        f"SELECT uscc, name, 'registered' FROM '{economy}/enterprises.parquet' "
        f"UNION ALL SELECT uscc, alias, kind FROM '{economy}/aliases.parquet'").fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--economy", type=Path, required=True)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--subset", type=int, default=100_000)
    parser.add_argument("--skip-splink", action="store_true")
    args = parser.parse_args()
    con = duckdb.connect()
    e = args.economy
    registry = economy_registry(con, e)
    sample = con.sql(f"SELECT mention_id, name_as_written, true_uscc FROM '{e}/truth/mentions.parquet' "
                     f"USING SAMPLE reservoir({args.mentions} ROWS) REPEATABLE (7)").fetchall()
    truth = {m: u for m, _, u in sample}
    timings: dict[str, float] = {}
    pred, seconds = ours(registry, sample, timings)
    p, r, f = f1(pred, truth)
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print(f"chainlight: {len(sample):,} mentions x {len(registry):,} registry names: {seconds:.1f} s, "
          f"peak {peak:,.0f} MB (largest process), precision {p:.4f} recall {r:.4f} F1 {f:.4f}")
    print(f"  index build {timings['build']:.1f} s ({timings['build_cpu']:.1f} CPU s), resolving "
          f"{timings['resolve']:.1f} s ({timings['resolve_cpu']:.1f} CPU s over the process and its workers)")
    if args.skip_splink:
        return
    subset = sample[: args.subset]
    wanted = {u for _, _, u in subset if u}
    sub_registry = [row for row in registry if row[0] in wanted]
    others = [row for row in registry if row[0] not in wanted][: max(0, args.subset - len(sub_registry))]
    sub_registry += others
    sub_truth = {m: u for m, _, u in subset}
    pred_ours, t_ours = ours(sub_registry, subset)
    pred_splink, t_splink = splink_reference(sub_registry, subset)
    po, ro, fo = f1(pred_ours, sub_truth)
    ps, rs, fs = f1(pred_splink, sub_truth)
    print(f"subset {len(subset):,} mentions x {len(sub_registry):,} names")
    print(f"  chainlight: {t_ours:7.1f} s  precision {po:.4f} recall {ro:.4f} F1 {fo:.4f}")
    print(f"  splink 4:   {t_splink:7.1f} s  precision {ps:.4f} recall {rs:.4f} F1 {fs:.4f}")
    print(f"  time ratio splink/chainlight {t_splink / t_ours:.2f}, F1 difference {fo - fs:+.4f}")


if __name__ == "__main__":
    main()
