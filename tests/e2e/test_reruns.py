"""Every derived table is bit-identical across reruns and thread counts (decisions replay hashed inputs)."""

from __future__ import annotations

from pathlib import Path

from conftest import table_digest

from chainlight import ingest, pipeline, tables
from chainlight.config import Config
from chainlight.workspace import Workspace


def _run_all(root: Path, economy: Path, threads: int, times: int = 1) -> list[dict[str, str]]:
    cfg = Config.model_validate({"engine": {"threads": threads}})
    digests = []
    with Workspace(root, cfg) as ws:
        report = ingest.run(ws, cfg, [economy])
        assert not report.errors
        for _ in range(times):
            stages = pipeline.run_stages(ws, cfg)
            digests.append({name: table_digest(ws, name) for name in sorted(tables.derived())
                            if ws.table_exists(name)})
        assert {r.stage for r in stages} == set(pipeline.built_stages())
    return digests


def test_all_stages_rerun_and_thread_counts_give_identical_tables(tiny_economy: Path, tmp_path: Path) -> None:
    one = _run_all(tmp_path / "one_thread", tiny_economy, threads=1)
    two, again = _run_all(tmp_path / "two_threads", tiny_economy, threads=2, times=2)
    assert {"mounts", "supply_edges", "graph_features", "entity_links", "facts"} <= set(one[0])
    differing = sorted(name for name in one[0] if not one[0][name] == two[name] == again[name])
    assert differing == []
