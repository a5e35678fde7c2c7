"""Reads stay consistent while a batch run holds the workspace and swaps tables in."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from fastapi.testclient import TestClient  # noqa: E402

from chainlight import pipeline  # noqa: E402
from chainlight.config import Config  # noqa: E402
from chainlight.serve import create_app  # noqa: E402
from chainlight.serve.snapshot import Snapshot, WorkspaceBusy  # noqa: E402
from chainlight.workspace import DB_FILE, Workspace  # noqa: E402

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


@pytest.fixture
def own_workspace(served_workspace: Path, api_keys: dict[str, str], tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    shutil.copytree(served_workspace, folder)
    return folder


@pytest.fixture
def writer_process(own_workspace: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the workspace file for writing, as ``chainlight run`` does."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(own_workspace / DB_FILE)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.communicate("", timeout=20)


def test_loading_while_a_batch_run_holds_the_file_is_busy(own_workspace: Path,
                                                          writer_process: subprocess.Popen[str]) -> None:
    with pytest.raises(WorkspaceBusy, match="locked by a batch run"):
        Snapshot.load(own_workspace, wait_s=0.3)


def test_loading_waits_for_the_batch_run_to_finish(own_workspace: Path, writer_process: subprocess.Popen[str]) -> None:
    release = threading.Timer(0.5, lambda: writer_process.communicate("", timeout=20))
    release.start()
    snapshot = Snapshot.load(own_workspace, wait_s=20)
    release.join()
    assert snapshot.tables["enterprises"] > 0


def test_service_answers_from_memory_while_the_file_is_held(own_workspace: Path, api_keys: dict[str, str]) -> None:
    cfg = Config.model_validate({"serve": {"snapshot_retry_s": 0.3}})
    headers = {"Authorization": f"Bearer {api_keys['analyst']}"}
    with TestClient(create_app(own_workspace, cfg)) as client:
        before = client.get("/v1/chains/automotive", headers=headers).json()
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(own_workspace / DB_FILE)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            assert client.get("/v1/chains/automotive", headers=headers).json() == before
            service = client.app.state.service  # type: ignore[attr-defined]
            old = service.snapshot
            with pytest.raises(WorkspaceBusy):
                service.reload()
            assert service.snapshot is old  # a failed reload keeps serving the old snapshot
            assert client.get("/v1/chains/automotive", headers=headers).json() == before
        finally:
            proc.communicate("", timeout=20)


def test_a_swapped_stage_is_served_after_reload_and_reads_never_fail(own_workspace: Path, api_keys: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {api_keys['analyst']}"}
    with TestClient(create_app(own_workspace, Config())) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        edges_before = service.snapshot.tables["supply_edges"]
        cfg = Config.model_validate({"graph": {"min_edge_amount": 5_000_000}})
        with Workspace(own_workspace, cfg) as ws:  # a batch run swaps fewer supply edges in
            pipeline.run_stages(ws, cfg, ["graph"])
        assert service.snapshot.tables["supply_edges"] == edges_before  # nothing changes until reload

        failures: list[int] = []
        stop = threading.Event()

        def read() -> None:
            with TestClient(client.app) as reader:
                while not stop.is_set():
                    status = reader.get("/v1/chains/automotive", headers=headers).status_code
                    if status != 200:
                        failures.append(status)

        threads = [threading.Thread(target=read) for _ in range(3)]
        for t in threads:
            t.start()
        for _ in range(3):
            service.reload()
        stop.set()
        for t in threads:
            t.join()
        assert failures == []
        assert 0 < service.snapshot.tables["supply_edges"] < edges_before
        assert client.get("/healthz").json()["tables"]["supply_edges"] == service.snapshot.tables["supply_edges"]


def test_a_spark_warehouse_outside_the_workspace_is_found_through_the_setting(tmp_path: Path) -> None:
    """``engine.spark_warehouse`` may point anywhere (a shared volume): the service reads the warehouse the batch
    wrote there, and with no setting it looks only in ``<workspace>/spark``."""
    import json

    import duckdb

    import chainlight.resolve  # noqa: F401  (registers entity_links, which the sales rule reads)
    from chainlight import tables

    root, warehouse = tmp_path / "ws", tmp_path / "volume" / "wh"
    root.mkdir()
    con = duckdb.connect()
    for name in ("enterprises", "invoices", "entity_links"):  # what the snapshot's shared rules need
        spec = tables.get(name)
        assert spec is not None
        con.execute(f"CREATE TABLE {name} (" + ", ".join(f'"{c.name}" {c.type}' for c in spec.columns) + ")")
        (warehouse / name / "v1").mkdir(parents=True)
        con.execute(f"COPY {name} TO '{warehouse / name / 'v1' / 'part-0.parquet'}' (FORMAT parquet)")
    con.execute("INSERT INTO enterprises (uscc, name) VALUES ('91110000100000000A', '甲公司')")
    con.execute(f"COPY enterprises TO '{warehouse / 'enterprises' / 'v1' / 'part-0.parquet'}' (FORMAT parquet)")
    (warehouse / "manifest.json").write_text(json.dumps({
        "tables": {n: [f"{n}/v1"] for n in ("enterprises", "invoices", "entity_links")}, "views": {}}))
    with pytest.raises(Exception, match="workspace has no database"):
        Snapshot.load(root, wait_s=0.1)
    snapshot = Snapshot.load(root, wait_s=0.1, spark_warehouse=warehouse)
    assert snapshot.tables["enterprises"] == 1
