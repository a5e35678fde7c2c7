"""Offline extraction throughput: facts/s and documents/s on synthetic reports and product texts.

    python bench/extract.py [--reports 10000] [--products 100000]

Documents are drawn from a synthetic economy's reports and listings (repeated with distinct ids to
reach the counts); the extractor is the offline one used by the ``extract`` stage.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from chainlight.extract.facts import Document
from chainlight.extract.offline import OfflineExtractor
from chainlight.ontology.model import load_default
from chainlight.synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="chainlight-bench-extract-"))
    generate(out, firms=20_000, seed=3)
    reports = pq.read_table(out / "reports.parquet").to_pylist()
    products = pq.read_table(out / "products.parquet").to_pylist()
    names = pq.read_table(out / "enterprises.parquet").column("name").to_pylist()
    docs = [Document(id=f"R{i}", kind="report", text=reports[i % len(reports)]["text"]) for i in range(args.reports)]
    docs += [Document(id=f"P{i}", kind="product", text=products[i % len(products)]["product_name"] + "，"
                      + products[i % len(products)]["description"]) for i in range(args.products)]
    start = time.perf_counter()
    extractor = OfflineExtractor(load_default(), names, seed=0)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    facts = extractor.extract_many(docs)
    seconds = time.perf_counter() - start
    print(f"setup (lexicon, n-gram model, gazetteer of {len(names):,} firms): {setup:.1f} s")
    print(f"{len(docs):,} documents ({args.reports:,} reports + {args.products:,} product texts) -> {len(facts):,} facts "
          f"in {seconds:.1f} s: {len(docs) / seconds:,.0f} docs/s, {len(facts) / seconds:,.0f} facts/s")


if __name__ == "__main__":
    main()
