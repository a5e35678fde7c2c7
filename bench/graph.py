"""The graph stage on a large economy: time and peak memory.

    python bench/graph.py [--firms 1000000] [--workspace DIR]

Prepares (once) a synthetic economy of that size, ingested, resolved and mounted; then runs the
graph stage in a fresh process. Goal on 2 cores: ~20M invoices / 1M firms in ≤ 2 minutes, ≤ 6 GB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stage import measure, prepare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path)
    args = parser.parse_args()
    workspace = args.workspace or Path(tempfile.gettempdir()) / f"chainlight-bench-ws-{args.firms}"
    prepare(workspace, args.firms, ["resolve", "mount"])
    figures = measure(workspace, "graph")
    print(f"graph stage: {figures['firms']:,} firms, {figures['invoices']:,} invoices -> "
          f"{figures['tables']['supply_edges']:,} edges in {figures['seconds']:.1f} s, peak {figures['peak_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
