"""The mount stage on a large economy: firms per second and peak memory.

    python bench/mount.py [--firms 1000000] [--workspace DIR]

Prepares (once) a synthetic economy of that size, ingested and resolved; then runs the mount stage in
a fresh process.
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
    prepare(workspace, args.firms, ["resolve"])
    figures = measure(workspace, "mount")
    print(f"mount stage: {figures['firms']:,} firms in {figures['seconds']:.1f} s = "
          f"{figures['firms'] / figures['seconds']:,.0f} firms/s, peak {figures['peak_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
