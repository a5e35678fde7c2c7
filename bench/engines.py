"""Stage time on DuckDB against Spark local mode, on the same economy, in one run.

    python bench/engines.py [--firms 100000] [--workspace DIR] [--stages resolve ...] [--engines duckdb spark]
                            [--spark-conf KEY=VALUE ...] [--set SETTING=VALUE ...]

Prepares (once, on DuckDB) a synthetic economy of that size, ingested, resolved, extracted and mounted.
Then, each in a fresh process: the batch stages (ontology, resolve, extract, mount, graph, expert, risk; or
those ``--stages`` names) on DuckDB; and on Spark local mode, after handing the inputs and the tables of the
earlier stages not timed over as Parquet (hand-over time printed apart, not counted). Timing risk alone runs
graph and expert on DuckDB first, untimed (risk reads their tables; the expert's weights come from its run).
Resolve starts from no decisions on both engines (the DuckDB child drops ``resolved_names``). Last, on DuckDB, the graph's
iterative measures as SQL against the scipy.sparse forms the stage uses there: why DuckDB keeps scipy.
Prints each stage's seconds as it ends (so a long run that fails keeps what it measured), then the table with
the ratio, and peak memory per stage: the Python process, and its whole process tree sampled once a second
(Spark's JVM and Python workers, or DuckDB resolve's forked matchers: pages they share count in each), and the
largest single Python worker (what one executor core's Python needs: resolve's index lives there).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stage import prepare  # noqa: E402

STAGES = ["ontology", "resolve", "extract", "mount", "graph", "expert", "risk"]
MADE_BY = {"resolve": ["entity_links"], "extract": ["facts"], "mount": ["mounts"],  # what later stages read
           "graph": ["supply_edges", "graph_features"], "expert": ["operating_scores", "firm_claims", "runs"]}
BEFORE_RISK = ["graph", "expert"]  # run untimed on DuckDB when risk is timed without them

CHILD = """
import json, resource, sys, threading, time
import psutil
from chainlight import tables
from chainlight.config import Config
from chainlight.engine.transfer import copy_tables
from chainlight.pipeline import runner
from chainlight.workspace import Workspace
duck_path, engine, conf = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
stages, handed = sys.argv[4].split(","), [t for t in sys.argv[5].split(",") if t]
settings = json.loads(sys.argv[6])  # --set, e.g. {"resolve": {"registry": "whole"}}
peak = {"tree": 0, "worker": 0}

def sample():  # this process and its children (Spark's JVM, the Python workers)
    me = psutil.Process()
    try:
        children = me.children(recursive=True)
        peak["tree"] = max(peak["tree"], sum(p.memory_info().rss for p in [me, *children]))
        workers = [p.memory_info().rss for p in children if "python" in p.name().lower()]
        peak["worker"] = max(peak["worker"], *workers, 0)  # the largest Python worker (or forked matcher)
    except psutil.Error:
        pass

def sampler():
    while True:
        sample()
        time.sleep(1)

threading.Thread(target=sampler, daemon=True).start()

def timed(label, work):
    peak["tree"] = peak["worker"] = 0
    start = time.perf_counter()
    work()
    sample()
    print(json.dumps({"stage": label, "seconds": time.perf_counter() - start, "tree_mb": peak["tree"] / 2**20,
                      "worker_mb": peak["worker"] / 2**20,
                      "python_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)

if engine == "spark":
    cfg = Config.model_validate({**settings, "engine": {"name": "spark", "spark_conf": conf}})
    with Workspace(duck_path + "-spark", cfg) as ws:
        with Workspace(duck_path, Config(), read_only=True) as duck:  # closed before the stages: its memory is not theirs
            timed("hand_over", lambda: copy_tables(duck.engine, ws.engine, [*tables.INPUT_TABLES, *handed]))
        if "resolve" in stages:
            ws.engine.execute("DROP TABLE IF EXISTS resolved_names")  # a warehouse left by an earlier bench
        for stage in stages:
            timed(stage, lambda: runner(stage)(ws, cfg))
else:
    cfg = Config.model_validate(settings)
    with Workspace(duck_path, cfg) as ws:
        if "resolve" in stages:
            ws.engine.execute("DROP TABLE IF EXISTS resolved_names")  # resolve from no earlier decisions
        for stage in stages:
            timed(stage, lambda: runner(stage)(ws, cfg))
"""

ALGORITHMS = """
import json, sys, time
from chainlight.config import Config
from chainlight.graph import algorithms
from chainlight.workspace import Workspace
with Workspace(sys.argv[1], Config()) as ws:
    e = ws.engine
    e.execute("CREATE OR REPLACE TEMP TABLE _b_nodes AS SELECT uscc, sales_total FROM graph_features")
    e.execute("CREATE OR REPLACE TEMP TABLE _b_edges AS SELECT seller_uscc, buyer_uscc, amount FROM supply_edges WHERE is_supply")
    e.execute("CREATE OR REPLACE TEMP TABLE _b_anchors AS SELECT uscc FROM graph_features WHERE is_anchor")
    start = time.perf_counter()
    algorithms.in_process_measures(e, "_b_nodes", "_b_edges", "_b_anchors", "_b_sparse")
    sparse = time.perf_counter() - start
    start = time.perf_counter()
    iterations = algorithms.sql_measures(e, "_b_nodes", "_b_edges", "_b_anchors", "_b_sql")
    sql = time.perf_counter() - start
print(json.dumps({"sparse": sparse, "sql": sql, "iterations": iterations}))
"""


def child(code: str, *args: str) -> dict:
    result: dict = json.loads(subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                             check=True).stdout.strip().splitlines()[-1])
    return result


def engine_child(engine: str, *args: str) -> dict[str, dict]:
    """Run one engine's stages, printing each stage's figures as it ends (a long run that fails keeps them)."""
    figures: dict[str, dict] = {}
    with subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            if line.startswith('{"stage"'):
                row = json.loads(line)
                figures[row["stage"]] = row
                print(f"  {engine:6s} {row['stage']:9s} {row['seconds']:9.1f} s   peak RSS {row['tree_mb']:,.0f} MB "
                      f"(process tree), largest Python worker {row['worker_mb']:,.0f} MB", flush=True)
        error = proc.stderr.read()
    if proc.returncode:
        print(f"{engine} child failed after {list(figures)}:\n{error[-3000:]}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--spark-conf", nargs="*", default=[], help="KEY=VALUE Spark settings")
    parser.add_argument("--set", nargs="*", default=[], dest="settings", metavar="SETTING=VALUE",
                        help="settings for both engines' runs, e.g. resolve.registry=whole")
    parser.add_argument("--stages", nargs="*", choices=STAGES, default=STAGES, help="the stages to time")
    parser.add_argument("--engines", nargs="*", choices=["duckdb", "spark"], default=["duckdb", "spark"],
                        help="the engines to time (default both, for the ratio)")
    args = parser.parse_args()
    stages = [s for s in STAGES if s in args.stages]  # pipeline order
    workspace = args.workspace or Path(tempfile.gettempdir()) / f"chainlight-bench-ws-{args.firms}"
    last = max(STAGES.index(s) for s in stages)  # the tables of stages after the last timed one are not needed
    prepare(workspace, args.firms, [s for s in ("resolve", "extract", "mount") if STAGES.index(s) < last])
    conf = {"spark.driver.memory": "2g", "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "8"}
    conf.update(dict(item.split("=", 1) for item in args.spark_conf))
    for stage in (BEFORE_RISK if "risk" in stages else []):
        if stage not in stages:
            subprocess.run([sys.executable, "-m", "chainlight", "--quiet", "run", "--workspace", str(workspace),
                            "--stage", stage], check=True)
    settings: dict = {}
    for item in args.settings:
        dotted, value = item.split("=", 1)
        *sections, name = dotted.split(".")
        node = settings
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    duck = engine_child("duckdb", str(workspace), "duckdb", "{}", ",".join(stages), "", json.dumps(settings)) \
        if "duckdb" in args.engines else {}
    handed = [t for stage, made in MADE_BY.items()  # what Spark does not make but a later timed stage reads
              if stage not in stages and STAGES.index(stage) < last for t in made]
    spark = engine_child("spark", str(workspace), "spark", json.dumps(conf), ",".join(stages), ",".join(handed),
                         json.dumps(settings)) if "spark" in args.engines else {}
    algo = child(ALGORITHMS, str(workspace)) if "graph" in stages and "duckdb" in args.engines else None
    print(f"engines on {args.firms:,} firms (Spark local mode, {json.dumps(conf)}; settings {json.dumps(settings)}):")
    for stage in stages:
        seconds = {name: figures[stage]["seconds"] for name, figures in (("duckdb", duck), ("spark", spark))
                   if stage in figures}
        ratio = f"spark/duckdb {seconds['spark'] / seconds['duckdb']:6.1f}x" if len(seconds) == 2 else ""
        print(f"  {stage:9s} " + "   ".join(f"{k} {v:8.1f} s" for k, v in seconds.items()) + f"   {ratio}")
    if "hand_over" in spark:
        print(f"  hand-over of {', '.join(['inputs', *handed])} to Spark (not counted): {spark['hand_over']['seconds']:.1f} s")
    for name, figures in (("duckdb", duck), ("spark driver", spark)):
        if figures:
            python = max(f["python_mb"] for f in figures.values())
            tree = max(f["tree_mb"] for f in figures.values())
            print(f"  peak RSS, {name}: Python process {python:,.0f} MB, with its children (JVM, workers) {tree:,.0f} MB")
    if algo is not None:
        print(f"graph measures on DuckDB: scipy.sparse {algo['sparse']:.2f} s, iterative SQL {algo['sql']:.2f} s "
              f"({algo['sql'] / algo['sparse']:.0f}x; iterations {algo['iterations']})")


if __name__ == "__main__":
    main()
