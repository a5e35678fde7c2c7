"""`chainlight serve` as a real process on loopback: the same contract over a socket, keys managed by the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from conftest import REPO, STORY_NAME, free_port, serving  # noqa: E402


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "chainlight", *args], env=env, capture_output=True, text=True, timeout=120)


def test_every_read_endpoint_over_http(live_server: str, api_keys: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {api_keys['analyst']}"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=30) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        chains = client.get("/v1/chains").json()
        assert any(c["chain_id"] == "automotive" for c in chains)
        chain = client.get("/v1/chains/automotive").json()
        segment = max(chain["segments"], key=lambda s: s["firms"])["segment_id"]
        assert client.get(f"/v1/segments/{segment}/firms").json()["firms"]
        hit = client.get("/v1/enterprises", params={"q": "丞达"}).json()["results"][0]
        assert hit["name"] == STORY_NAME
        profile = client.get(f"/v1/enterprises/{hit['uscc']}").json()
        assert profile["anchor_paths"]
        assert "chainlight_http_requests_total" in client.get("/metrics").text
        assert client.get("/").headers["content-type"].startswith("text/html")
        schema = client.get("/openapi.json").json()
        assert {"/v1/decisions", "/v1/enterprises/{uscc}", "/v1/enterprises", "/v1/chains", "/v1/chains/{chain_id}",
                "/v1/audit/verify", "/healthz", "/metrics"} <= set(schema["paths"])


def test_bad_requests_over_http_are_4xx(live_server: str, api_keys: dict[str, str]) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        assert client.get("/v1/chains").status_code == 401
        decider = {"Authorization": f"Bearer {api_keys['decider']}"}
        assert client.post("/v1/decisions", content=b"x" * 70_000, headers=decider).status_code == 413
        json_header = {**decider, "Content-Type": "application/json"}
        assert client.post("/v1/decisions", content=b"{", headers=json_header).status_code == 422
        assert client.get("/v1/enterprises/../../etc/passwd", headers=decider).status_code == 404
        response = client.get("/v1/enterprises/%00%00", headers=decider)
        assert response.status_code in (404, 422) and "Traceback" not in response.text


def test_keys_made_and_revoked_by_the_cli_take_effect_in_the_running_service(live_server: str,
                                                                            served_workspace: Path) -> None:
    made = cli("-q", "keys", "create", "--workspace", str(served_workspace), "--role", "analyst", "--label", "e2e")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    listed = cli("keys", "list", "--workspace", str(served_workspace))
    assert key_id in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(live_server + "/v1/chains", headers=headers, timeout=30).status_code == 200
    assert cli("keys", "revoke", "--workspace", str(served_workspace), key_id).returncode == 0
    assert httpx.get(live_server + "/v1/chains", headers=headers, timeout=30).status_code == 401
    bad = cli("keys", "create", "--workspace", str(served_workspace), "--role", "admin")
    assert bad.returncode != 0 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


def test_serve_refuses_a_workspace_without_a_database(tmp_path: Path) -> None:
    result = cli("serve", "--workspace", str(tmp_path), "--port", str(free_port()))
    assert result.returncode == 1 and result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_two_workers_share_metrics_keys_and_the_audit_chain(served_workspace: Path, api_keys: dict[str, str],
                                                            story_uscc: str) -> None:
    with serving(served_workspace, "--workers", "2") as (_, url):
        headers = {"Authorization": f"Bearer {api_keys['analyst']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for _ in range(40):  # new connections land on either worker
                with httpx.Client(base_url=url, headers=headers, timeout=30) as fresh:
                    assert fresh.get("/v1/chains").status_code == 200

            def counted() -> float:
                line = next(s for s in client.get("/metrics").text.splitlines()
                            if s.startswith("chainlight_http_requests_total{") and 'route="/v1/chains"' in s
                            and 'status="200"' in s)
                return float(line.rsplit(" ", 1)[1])

            deadline = time.monotonic() + 10  # a request is counted just after its response has gone out
            while counted() < 40 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert counted() >= 40  # summed over both workers
        # both workers append to one audit chain at once, and it stays whole
        decider = {"Authorization": f"Bearer {api_keys['decider']}"}
        before = httpx.get(url + "/v1/audit/verify", headers=decider, timeout=30).json()["entries"]

        def decide(amount: int) -> int:
            with httpx.Client(base_url=url, headers=decider, timeout=60) as fresh:
                response = fresh.post("/v1/decisions", json={"uscc": story_uscc, "amount": amount})
                assert response.status_code == 200, response.text
                return int(response.json()["audit_entry_id"])

        with ThreadPoolExecutor(6) as pool:
            ids = list(pool.map(decide, range(100_000, 100_000 + 24 * 1000, 1000)))
        report = httpx.get(url + "/v1/audit/verify", headers=decider, timeout=30).json()
        assert report["ok"] and report["entries"] == before + 24
        assert sorted(ids) == list(range(before + 1, before + 25))


def test_a_batch_run_while_serving_then_sighup_serves_the_new_tables(served_workspace: Path, api_keys: dict[str, str],
                                                                    tmp_path: Path) -> None:
    import shutil
    import signal

    from chainlight import pipeline
    from chainlight.config import Config
    from chainlight.workspace import Workspace
    folder = tmp_path / "ws"
    shutil.copytree(served_workspace, folder)
    headers = {"Authorization": f"Bearer {api_keys['analyst']}"}
    with serving(folder) as (proc, url):
        before = httpx.get(url + "/healthz", timeout=30).json()["tables"]["supply_edges"]
        cfg = Config.model_validate({"graph": {"min_edge_amount": 5_000_000}})
        with Workspace(folder, cfg) as ws:  # the batch run takes the file for writing while the service answers
            assert httpx.get(url + "/v1/chains/automotive", headers=headers, timeout=30).status_code == 200
            pipeline.run_stages(ws, cfg, ["graph"])
            assert httpx.get(url + "/v1/chains/automotive", headers=headers, timeout=30).status_code == 200
        assert httpx.get(url + "/healthz", timeout=30).json()["tables"]["supply_edges"] == before
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while httpx.get(url + "/healthz", timeout=30).json()["tables"]["supply_edges"] == before:
            assert time.monotonic() < deadline, "SIGHUP did not reload the snapshot"
            time.sleep(0.3)
        assert 0 < httpx.get(url + "/healthz", timeout=30).json()["tables"]["supply_edges"] < before
