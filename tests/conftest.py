"""Shared fixtures: a fresh workspace, the shared real-data folder, and CLI invocation."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings

from chainlight.config import Config
from chainlight.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]

# Property tests: timing never decides a test (the machine is shared), and the examples are derived
# from each test's name, so a failure reproduces on every run and in CI.
settings.register_profile("chainlight", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("chainlight")


def shared_data() -> Path:
    """``../shared/data`` beside the repo, or ``$CHAINLIGHT_SHARED_DATA``."""
    return Path(os.environ.get("CHAINLIGHT_SHARED_DATA", REPO.parent / "shared" / "data"))


def write_jsonl(folder: Path, name: str, records: list[dict[str, Any]]) -> None:
    (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def write_shenwan(folder: Path, industries: dict[str, str]) -> None:
    """A chain_kg ``industry.jsonl`` and ``industry_industry.jsonl``: parents follow the 6-digit codes."""
    def parent(code: str) -> str:
        return code[:4] + "00" if not code.endswith("00") else code[:2] + "0000"
    write_jsonl(folder, "industry.jsonl", [{"code": c, "name": n} for c, n in industries.items()])
    write_jsonl(folder, "industry_industry.jsonl", [
        {"from_code": c, "from_industry": n, "rel": "上级行业", "to_code": parent(c), "to_industry": industries[parent(c)]}
        for c, n in industries.items() if not c.endswith("0000")])


def load_script(relative: str) -> ModuleType:
    """A repo script (``dev/…``, ``bench/…``) imported as a module, for tests of what it computes."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    if spec.name in sys.modules:  # loaded once per session (as an import would be)
        return sys.modules[spec.name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the script look their module up there
    spec.loader.exec_module(module)
    return module


def require_shared(name: str) -> Path:
    folder = shared_data() / name
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent (set CHAINLIGHT_SHARED_DATA)")
    return folder


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path / "ws", Config())
    yield workspace
    workspace.close()


TINY_FIRMS = 1500
TINY_SEED = 7


@pytest.fixture(scope="session")
def tiny_economy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small synthetic economy (inputs + truth/), generated once per test session."""
    from chainlight import synth  # our own code: an ImportError here is a failure, never a skip

    out = tmp_path_factory.mktemp("tiny_economy")
    synth.generate(out, firms=TINY_FIRMS, seed=TINY_SEED)
    return out


@pytest.fixture(scope="session")
def tiny_workspace(tiny_economy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The tiny economy ingested and run through every built stage; shared read-mostly by tests."""
    from chainlight import ingest, pipeline
    cfg = Config()
    workspace = Workspace(tmp_path_factory.mktemp("tiny_ws"), cfg)
    report = ingest.run(workspace, cfg, [tiny_economy])
    assert not report.errors, report.errors
    pipeline.run_stages(workspace, cfg)
    yield workspace
    workspace.close()


REQUIRED_DEFAULTS: dict[str, dict[str, object]] = {
    "enterprises": {"scope": "", "industry_code": "", "province": "", "city": "", "founded": "2010-01-01",
                    "registered_capital": 1000000, "high_tech": False},
    "invoices": {"buyer_uscc": "", "tax_code": "", "status": "normal"},
    "products": {"description": ""},
    "patents": {"abstract": "", "ipc": "", "grant_date": ""},
}


def load_tables(ws: Workspace, folder: Path, rows: dict[str, list[dict[str, object]]]) -> None:
    """Hand-built input tables, written as CSV and ingested (so tests use the real load path)."""
    import csv

    from chainlight import ingest, tables
    folder.mkdir(parents=True, exist_ok=True)
    for table, records in rows.items():
        columns = tables.INPUT_TABLES[table].column_names
        with (folder / f"{table}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for record in records:
                writer.writerow({c: record.get(c, REQUIRED_DEFAULTS.get(table, {}).get(c, "")) for c in columns})
    report = ingest.run(ws, Config(), [folder])
    assert not report.errors, report.errors
    assert report.totals()["rows_quarantined"] == 0, ws.engine.query("SELECT * FROM quarantine").to_pylist()


Tier = list[tuple[str, str, float, float | None]]  # (uscc, top-tier segment, yearly sales, registered capital)


def load_tiers(ws: Workspace, folder: Path, firms: Tier) -> None:
    """Firms selling to retail buyers (no suppliers), each mounted on its chain's top-tier segment."""
    load_tables(ws, folder / "in", {
        "enterprises": [{"uscc": u, "name": f"企业{u[-6:]}有限公司", "registered_capital": c} for u, _, _, c in firms],
        "invoices": [{"invoice_id": f"A{k}", "seller_uscc": u, "buyer_name": "零售客户", "item_name": "货物",
                      "amount": s, "issue_date": "2024-03-15", "status": "normal"}
                     for k, (u, _, s, _) in enumerate(firms) if s > 0]})
    ws.engine.execute("CREATE OR REPLACE TABLE mounts (uscc VARCHAR, segment_id VARCHAR, chain_id VARCHAR, tier VARCHAR, "
                      "share DOUBLE, confidence DOUBLE, rank BIGINT)")
    for u, segment, _, _ in firms:
        ws.engine.execute("INSERT INTO mounts VALUES ($u, $s, $c, 'assembly', 1.0, 1.0, 1)",
                          {"u": u, "s": segment, "c": segment.split(".")[0]})


def random_tiers(seed: int) -> Tier:
    """Three chains' top tiers of 3-14 log-normal small makers and 0-3 large ones; ~30% capital unknown."""
    import numpy as np
    rng = np.random.default_rng(seed)
    firms: Tier = []
    for segment in ("automotive.vehicle_assembly", "textiles.garments", "chemicals.coatings"):
        n, big = int(rng.integers(3, 15)), int(rng.integers(0, 4))
        sales = np.concatenate([rng.lognormal(18, 0.8, n), rng.lognormal(22, 0.5, big)])
        firms += [(make_uscc(300 + len(firms) + k), segment, round(float(s), 2),
                   None if rng.random() < 0.3 else round(float(s * rng.uniform(0.05, 0.2)), 2))
                  for k, s in enumerate(sales)]
    return firms


def reference_anchors(firms: Tier, false_rate: float, most: int) -> set[str]:
    """The graph stage's anchor rule (its module docstring) in plain numpy, one chain at a time, for tiers
    built by ``load_tiers``: the oracle the stage's anchors.sql is tested against on every engine."""
    from statistics import NormalDist

    import numpy as np

    from chainlight.graph import MIN_SPREAD
    picked: set[str] = set()
    for chain in {segment.split(".")[0] for _, segment, _, _ in firms}:
        tier = sorted((u, s, c) for u, segment, s, c in firms if segment.split(".")[0] == chain and s > 0)
        if not tier or most <= 0:
            continue
        # the third view, log(1 + held supplier output), is 0: firms of ``load_tiers`` have no suppliers
        logs = [[np.log(s), np.log(c) if c and c > 0 else np.nan, np.log1p(0.0)] for _, s, c in tier]
        size = np.nanmean(np.array(logs), axis=1)
        median = float(np.median(size))
        spread = max(1.4826 * float(np.median(np.abs(size - median))), MIN_SPREAD)
        z = NormalDist().inv_cdf(1.0 - false_rate / max(len(tier), 2))
        order = sorted(range(len(tier)), key=lambda i: (-size[i], tier[i][0]))
        out = [i for i in order if (size[i] - median) / spread >= z]
        picked |= {tier[i][0] for i in (out or order[:1])[:most]}
    return picked


def anchors_of(ws: Workspace, **settings: object) -> set[str]:
    """Run the graph stage with the given graph settings; the firms it marks as anchors."""
    from chainlight import graph
    from chainlight.config import GraphSettings
    graph.run(ws, Config(engine=ws.config.engine, graph=GraphSettings(min_edge_amount=0, min_recurring_months=1,
                                                                      **settings)))
    return {r["uscc"] for r in ws.engine.query("SELECT uscc FROM graph_features WHERE is_anchor").to_pylist()}


def table_digest(ws: Workspace, name: str) -> str:
    """SHA-256 of a table's rows ordered by all columns (``run_id`` left out). Values are hashed by their
    ``repr``, which round-trips every float exactly: equal digests mean bit-identical values."""
    import hashlib

    columns = [c for c, _ in ws.engine.columns(name) if c != "run_id"]
    quoted = ", ".join(f'"{c}"' for c in columns)
    digest = hashlib.sha256(repr(columns).encode())
    for batch in ws.engine.query(f"SELECT {quoted} FROM {name} ORDER BY {quoted}").to_batches(10_000):
        for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def make_uscc(n: int) -> str:
    from chainlight import uscc
    return uscc.make("9", "1", "330400", f"{n:08d}")


# -- the service (tests/serve, tests/e2e) ----------------------------------------------------------------
@pytest.fixture(scope="session")
def served_workspace(tiny_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny workspace for the service: the service attaches the file read-only, which
    DuckDB refuses while this process holds it open for writing (as a batch run would)."""
    import shutil

    from chainlight.workspace import DB_FILE
    tiny_workspace.engine.execute("CHECKPOINT")
    folder = tmp_path_factory.mktemp("served_ws") / "ws"
    shutil.copytree(tiny_workspace.root, folder, ignore=shutil.ignore_patterns(f"{DB_FILE}*"))  # models, policies, audit
    shutil.copy2(tiny_workspace.db_path, folder / DB_FILE)
    return folder


@pytest.fixture(scope="session")
def api_keys(served_workspace: Path) -> dict[str, str]:
    """One analyst and one decider key for the served workspace."""
    pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
    from chainlight.serve.keys import KeyStore
    store = KeyStore(served_workspace)
    return {role: store.create(role, f"tests {role}")[1] for role in ("analyst", "decider")}


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(workspace: Path, *args: str) -> Iterator[tuple[Any, str]]:
    """``chainlight serve`` over ``workspace`` in a child process on a free loopback port, until it answers
    /healthz; yields (process, base URL) and stops it afterwards."""
    import subprocess
    import sys
    import time

    import httpx
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "chainlight", "-q", "serve", "--workspace", str(workspace),
                             "--port", str(port), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                output = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"chainlight serve did not start: {output[-2000:]}")
            time.sleep(0.2)
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def live_server(served_workspace: Path, api_keys: dict[str, str]) -> Iterator[str]:
    """``chainlight serve`` on the served workspace for the whole session; yields its base URL."""
    with serving(served_workspace) as (_, url):
        yield url


STORY_NAME = "嘉兴丞达新材料科技有限公司"


@pytest.fixture(scope="session")
def client(served_workspace: Path, api_keys: dict[str, str]) -> Iterator[Any]:
    """The service's ASGI app over the served workspace, through Starlette's TestClient."""
    from fastapi.testclient import TestClient

    from chainlight.serve import create_app
    with TestClient(create_app(served_workspace, Config()), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def analyst(api_keys: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_keys['analyst']}"}


@pytest.fixture(scope="session")
def decider(api_keys: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_keys['decider']}"}


@pytest.fixture(scope="session")
def story_uscc(tiny_workspace: Workspace) -> str:
    """The design's story firm (registered as machinery, really makes nylon for cars)."""
    found = tiny_workspace.engine.scalar("SELECT uscc FROM enterprises WHERE name = $n", {"n": STORY_NAME})
    assert found, "the synthetic economy always holds the story firm"
    return str(found)
