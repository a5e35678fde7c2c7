"""The name matcher's registry index at scale: build time, memory, and time per name.

    python bench/resolve_index.py --economy DIR [--names 30000]

DIR is a synthetic economy (``chainlight synth --out DIR --firms N``: Parquet folders or files ``enterprises``
and ``aliases``). The registry is read as the resolve stage reads it (registered names plus aliases) and
indexed with ``Resolver.from_arrow``, as each Python worker of the stage does; then a seeded sample of
registered names, cut to short forms and with one character dropped, is resolved. Prints the index's
size (the process's resident memory it added, and the arrays' own bytes), bytes per registry name, the
peak resident memory of the process, build seconds and milliseconds per name.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from pathlib import Path

import duckdb
import psutil

from chainlight.resolve.matcher import Resolver


def parquet(economy: Path, table: str) -> str:
    """A table of the economy: a folder of Parquet parts (``synth --out``) or one file (a bench workspace's inputs)."""
    folder = economy / table
    return f"read_parquet('{folder}/*.parquet')" if folder.is_dir() else f"read_parquet('{folder}.parquet')"


def registry(economy: Path) -> duckdb.DuckDBPyRelation:
    return duckdb.sql(
        f"SELECT uscc, name, 'registered' AS kind FROM {parquet(economy, 'enterprises')} WHERE name IS NOT NULL "
        f"UNION ALL SELECT uscc, alias AS name, kind FROM {parquet(economy, 'aliases')} WHERE alias IS NOT NULL")


def sample_names(names: list[str], count: int, seed: int = 7) -> list[str]:
    """Registered names as mentions are written: whole, without the legal form, or with a typo."""
    rng = random.Random(seed)
    picked = rng.sample(names, min(count, len(names)))
    out = []
    for name in picked:
        form = rng.randrange(3)
        if form == 1:
            name = name.replace("有限公司", "").replace("股份", "")
        elif form == 2 and len(name) > 4:
            cut = rng.randrange(2, len(name) - 1)
            name = name[:cut] + name[cut + 1:]
        out.append(name)
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--economy", type=Path, required=True)
    parser.add_argument("--names", type=int, default=30_000)
    args = parser.parse_args()
    process = psutil.Process()
    table = registry(args.economy).to_arrow_table()
    names = [n for n, k in zip(table.column("name").to_pylist(), table.column("kind").to_pylist(), strict=True)
             if k == "registered"]
    mentions = sample_names(names, args.names)
    del names
    # the normaliser's and pinyin's dictionaries load on first use: not part of the index
    Resolver([("WARMUP", "杭州远航汽车有限公司", "registered")]).resolve("远航汽车")
    before = process.memory_info().rss
    start = time.perf_counter()
    resolver = Resolver.from_arrow(table)
    built = time.perf_counter() - start
    del table
    added = process.memory_info().rss - before
    arrays = (resolver.entries.nbytes + resolver.signatures.nbytes
              + sum(p.nbytes for p in (resolver.by_full, resolver.by_core, resolver.by_head, resolver.blocks))
              + resolver.prefix_count.nbytes
              + sum(a.nbytes for a in resolver.by_char.values()) * 3)  # int32 postings + their uint64 signatures
    count = len(resolver.entries)
    print(f"registry: {count:,} indexed names; build {built:,.1f} s", flush=True)
    print(f"index: resident memory added {added / 2**20:,.0f} MiB ({added / count:,.0f} B/name); "
          f"its arrays {arrays / 2**20:,.0f} MiB ({arrays / count:,.0f} B/name)", flush=True)
    start = time.perf_counter()
    decided = [resolver.resolve(n) for n in mentions]
    took = time.perf_counter() - start
    linked = sum(m.uscc is not None for m in decided)
    print(f"resolve: {len(mentions):,} names in {took:,.1f} s ({1000 * took / max(len(mentions), 1):.2f} ms/name), "
          f"{linked:,} linked", flush=True)
    print(f"peak resident memory of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:,.2f} GiB")


if __name__ == "__main__":
    main()
