"""Shared by the stage benchmarks: run one batch stage on a prepared workspace in a fresh process and
report wall time and peak memory (the child's own maximum RSS)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

CHILD = """
import json, resource, sys, time
from chainlight.config import Config
from chainlight.pipeline import runner
from chainlight.workspace import Workspace
cfg = Config.model_validate({"engine": {"memory_limit": sys.argv[3] or None}})
with Workspace(sys.argv[1], cfg) as ws:
    start = time.perf_counter()
    result = runner(sys.argv[2])(ws, cfg)
    seconds = time.perf_counter() - start
    firms = ws.row_count("enterprises")
    invoices = ws.row_count("invoices")
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "tables": result.tables, "firms": firms, "invoices": invoices,
                  "peak_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}))
"""


def measure(workspace: Path, stage: str, memory_limit: str = "") -> dict:
    """``memory_limit`` caps DuckDB (``engine.memory_limit``; default 80% of RAM, which it will use)."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(workspace), stage, memory_limit], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(workspace: Path, firms: int, stages: list[str]) -> None:
    """Synthesise, ingest and run the stages a benchmark needs first (each skipped when already done)."""
    if not (workspace / "chainlight.duckdb").exists():
        inputs = workspace / "inputs"
        subprocess.run([sys.executable, "-m", "chainlight", "--quiet", "synth", "--out", str(inputs), "--firms",
                        str(firms)], check=True)
        subprocess.run([sys.executable, "-m", "chainlight", "--quiet", "ingest", "--workspace", str(workspace),
                        str(inputs)], check=True)
    from chainlight.config import Config
    from chainlight.workspace import Workspace

    with Workspace(workspace, Config(), read_only=True) as ws:
        stages = [stage for stage in stages if ws.last_run(stage) is None]
    for stage in stages:
        subprocess.run([sys.executable, "-m", "chainlight", "--quiet", "run", "--workspace", str(workspace),
                        "--stage", stage], check=True)


def cli(stage: str, prerequisites: list[str], describe: Callable[[dict], str], doc: str) -> None:
    """The shared command line of the stage benchmarks."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path)
    args = parser.parse_args()
    workspace = args.workspace or Path(tempfile.gettempdir()) / f"chainlight-bench-ws-{args.firms}"
    prepare(workspace, args.firms, prerequisites)
    print(describe(measure(workspace, stage)))
