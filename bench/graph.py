"""The graph stage on a large economy: time and peak memory.

    python bench/graph.py [--firms 1000000] [--workspace DIR]

Prepares (once) a synthetic economy of that size, ingested, resolved and mounted; then runs the
graph stage in a fresh process. Goal on 2 cores: ~20M invoices / 1M firms in ≤ 2 minutes, ≤ 6 GB.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stage import cli  # noqa: E402

if __name__ == "__main__":
    cli("graph", ["resolve", "mount"], lambda f: (
        f"graph stage: {f['firms']:,} firms, {f['invoices']:,} invoices -> {f['tables']['supply_edges']:,} edges "
        f"in {f['seconds']:.1f} s, peak {f['peak_mb']:,.0f} MB"), __doc__)
