"""Synthetic economy generation: wall time and peak memory per size, each size in its own process.

    python bench/synth.py [--firms 100000 1000000] [--profile standard|blind] [--partitioned] [--out DIR]

Goal: 1M firms + ~20M invoices in ≤ 10 minutes at ≤ 4 GB peak on 2 cores, peak not growing with the
number of invoices beyond one batch. Blind profile (issue 11): 1M firms in ≤ 5 minutes at ≤ 3 GB. Issue 18: a
10M-firm economy at ≤ 3 GB peak. "MB/1k firms" is the peak above the interpreter's own (~160 MB) per thousand
firms: it falls with size where memory is flat (a fixed part, mostly one invoice batch's arrays, spread over
more firms). The second line gives the peak reached by each phase's last progress report (an invoice phase's
by its last batch), and the largest resident memory sampled at those reports, split into anonymous memory and
file-backed pages of the memory-mapped spill (pages a batch read: bounded by the rows one batch touches).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from chainlight.synth import generate
phases, split = {}, {"RssAnon": 0.0, "RssFile": 0.0}
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def progress(text, fraction):
    phases[text.split(" batch")[0]] = peak()
    for line in open("/proc/self/status"):  # resident: anonymous (heap) and file-backed (mapped spill) pages
        key, _, value = line.partition(":")
        if key in split:
            split[key] = max(split[key], int(value.split()[0]) / 1024)
start = time.perf_counter()
summary = generate(sys.argv[1], firms=int(sys.argv[2]), seed=42, profile=sys.argv[3], partitioned=sys.argv[4] == "1",
                   progress=progress)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": summary.rows, "peak_mb": peak(), "phases": phases,
                  "split": split}))
"""

BASE_MB = 160  # the interpreter with numpy, pyarrow and chainlight imported, before any firm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--profile", choices=["standard", "blind"], default="standard")
    parser.add_argument("--partitioned", action="store_true", help="write each input table as a folder of parts")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "chainlight-bench-synth")
    args = parser.parse_args()
    print(f"profile {args.profile}")
    print(f"{'firms':>10} {'invoices':>12} {'seconds':>9} {'peak MB':>9} {'MB/1k firms':>12} {'invoices/s':>12} "
          f"{'MB on disk':>11}")
    for firms in args.firms:
        out = args.out / str(firms)
        shutil.rmtree(out, ignore_errors=True)
        result = subprocess.run([sys.executable, "-c", CHILD, str(out), str(firms), args.profile,
                                 "1" if args.partitioned else "0"], capture_output=True, text=True,
                                check=True)
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        invoices = figures["rows"]["invoices"]
        disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
        print(f"{firms:>10,} {invoices:>12,} {figures['seconds']:>9.1f} {figures['peak_mb']:>9.0f} "
              f"{(figures['peak_mb'] - BASE_MB) / firms * 1000:>12.2f} "
              f"{invoices / figures['seconds']:>12,.0f} {disk:>11,.0f}")
        # the peak reached by the start of each phase (a phase's own high shows at the next one's start)
        print("           peak MB by the start of: " + ", ".join(f"{name} {mb:,.0f}"
                                                              for name, mb in figures["phases"].items())
              + "; largest sampled RSS, anonymous {RssAnon:,.0f}, file-backed {RssFile:,.0f}".format(**figures["split"]))


if __name__ == "__main__":
    main()
