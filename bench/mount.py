"""The mount stage on a large economy: firms per second and peak memory.

    python bench/mount.py [--firms 1000000] [--workspace DIR]

Prepares (once) a synthetic economy of that size, ingested and resolved; then runs the mount stage in
a fresh process.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stage import cli  # noqa: E402

if __name__ == "__main__":
    cli("mount", ["resolve"], lambda f: (
        f"mount stage: {f['firms']:,} firms in {f['seconds']:.1f} s = {f['firms'] / f['seconds']:,.0f} firms/s, "
        f"peak {f['peak_mb']:,.0f} MB"), __doc__)
