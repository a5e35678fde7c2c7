"""POST /v1/decisions: the risk engine's decision, the same as `chainlight decide`, one audit entry each."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from conftest import REPO  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from chainlight.config import Config  # noqa: E402
from chainlight.risk import audit  # noqa: E402
from chainlight.serve import create_app  # noqa: E402

# what differs between two decisions on the same application made at different moments
PER_CALL = {"application_id", "audit_entry_id", "decided_at"}


def _decide(client: TestClient, headers: dict[str, str], uscc: str, amount: float, **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/decisions", json={"uscc": uscc, "amount": amount, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_story_firm_decision_contract(client: TestClient, decider: dict[str, str], story_uscc: str) -> None:
    body = _decide(client, decider, story_uscc, 2_000_000, application_id="APP-story-1")
    assert body["application_id"] == "APP-story-1" and body["uscc"] == story_uscc
    assert body["decision"] in ("approve", "decline", "refer") and body["requested_amount"] == 2_000_000
    assert 0 <= body["amount"] <= 2_000_000 and 0 <= body["pd"] <= 1
    assert body["reasons"] and all(r["text_zh"] and r["text_en"] and r["direction"] in ("adverse", "favourable")
                                   for r in body["reasons"])
    assert body["versions"]["model_hash"] and body["versions"]["policy"]
    assert body["evidence"]["path_to_anchor"], "the story firm's evidence holds its path to the anchor"
    assert isinstance(body["audit_entry_id"], int) and body["audit_entry_id"] > 0


def test_a_decision_equals_chainlight_decide(client: TestClient, decider: dict[str, str], story_uscc: str,
                                            served_workspace: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cli = subprocess.run([sys.executable, "-m", "chainlight", "-q", "decide", "--workspace", str(served_workspace),
                          "--uscc", story_uscc, "--amount", "1500000", "--json"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    from_api = _decide(client, decider, story_uscc, 1_500_000)
    assert {k: v for k, v in from_api.items() if k not in PER_CALL} == {k: v for k, v in from_cli.items() if k not in PER_CALL}
    assert from_api["audit_entry_id"] == from_cli["audit_entry_id"] + 1  # both appended to one chain


def test_each_decision_adds_one_verified_audit_entry(client: TestClient, decider: dict[str, str], analyst: dict[str, str],
                                                    story_uscc: str, served_workspace: Path) -> None:
    before = client.get("/v1/audit/verify", headers=analyst).json()
    assert before["ok"], before
    made = [_decide(client, decider, story_uscc, amount) for amount in (100_000, 500_000, 3_000_000)]
    after = client.get("/v1/audit/verify", headers=analyst).json()
    assert after["ok"] and after["entries"] == before["entries"] + 3
    assert [d["audit_entry_id"] for d in made] == list(range(before["entries"] + 1, before["entries"] + 4))
    logged = {e["id"]: e for e in audit.entries(served_workspace)}
    for decision in made:
        entry = logged[decision["audit_entry_id"]]
        assert entry["kind"] == "decision" and entry["decision"]["decision"] == decision["decision"]
        assert entry["inputs"]["requested_amount"] == decision["requested_amount"]


def test_profile_shows_the_latest_online_decision(client: TestClient, decider: dict[str, str], analyst: dict[str, str],
                                                  story_uscc: str) -> None:
    made = _decide(client, decider, story_uscc, 777_000)
    latest = client.get(f"/v1/enterprises/{story_uscc}", headers=analyst).json()["latest_decision"]
    assert latest["source"] == "online" and latest["audit_entry_id"] == made["audit_entry_id"]
    assert latest["reasons"] == made["reasons"]


def test_unknown_firm_is_a_4xx_and_writes_nothing(client: TestClient, decider: dict[str, str], analyst: dict[str, str]) -> None:
    from chainlight import uscc
    before = client.get("/v1/audit/verify", headers=analyst).json()["entries"]
    stranger = uscc.make("9", "1", "110000", "99999998")
    response = client.post("/v1/decisions", json={"uscc": stranger, "amount": 10_000}, headers=decider)
    assert response.status_code == 400 and "unknown enterprise" in response.json()["detail"]
    assert client.get("/v1/audit/verify", headers=analyst).json()["entries"] == before


def test_an_edited_audit_log_fails_verification(served_workspace: Path, tmp_path: Path, api_keys: dict[str, str],
                                                story_uscc: str) -> None:
    folder = tmp_path / "ws"
    shutil.copytree(served_workspace, folder)
    headers = {"Authorization": f"Bearer {api_keys['decider']}"}
    with TestClient(create_app(folder, Config())) as client:
        edited = _decide(client, headers, story_uscc, 200_000)["audit_entry_id"]
        _decide(client, headers, story_uscc, 300_000)
        assert client.get("/v1/audit/verify", headers=headers).json()["ok"]
        log = folder / audit.LOG_FILE
        lines = log.read_text(encoding="utf-8").splitlines()
        lines[edited - 1] = lines[edited - 1].replace('"requested_amount":200000', '"requested_amount":900000', 1)
        log.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = client.get("/v1/audit/verify", headers=headers).json()
        assert report["ok"] is False and report["first_bad"] == edited


def test_the_fast_path_and_the_route_decide_alike(client: TestClient, decider: dict[str, str], story_uscc: str) -> None:
    """`application/json` is answered by FastDecisions; another JSON media type goes through the FastAPI
    route. Same decision, same fields, consecutive audit entries."""
    payload = json.dumps({"uscc": story_uscc, "amount": 900_000})
    fast = client.post("/v1/decisions", content=payload, headers={**decider, "Content-Type": "application/json"})
    routed = client.post("/v1/decisions", content=payload,
                         headers={**decider, "Content-Type": "application/vnd.chainlight+json"})
    assert fast.status_code == routed.status_code == 200, (fast.text, routed.text)
    a, b = fast.json(), routed.json()
    assert {k: v for k, v in a.items() if k not in PER_CALL} == {k: v for k, v in b.items() if k not in PER_CALL}
    assert b["audit_entry_id"] == a["audit_entry_id"] + 1
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"


def test_the_fast_path_hands_on_every_request_it_does_not_take(client: TestClient, api_keys: dict[str, str],
                                                             story_uscc: str) -> None:
    """Only a decider's well-formed JSON request is decided by FastDecisions; anything else reaches the
    app behind it with its body intact (so its 401/403/422 come from the route, as before)."""
    from chainlight.serve.app import FastDecisions

    service = client.app.state.service  # type: ignore[attr-defined]
    good = json.dumps({"uscc": story_uscc, "amount": 100_000}).encode()

    def run(headers: dict[str, str], body: bytes, method: str = "POST") -> tuple[list[bytes], list[dict[str, Any]]]:
        handed: list[bytes] = []
        sent: list[dict[str, Any]] = []

        async def inner(scope: Any, receive: Any, send: Any) -> None:
            handed.append((await receive())["body"])

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": "/v1/decisions",
                 "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
        asyncio.run(FastDecisions(inner, service, route=None)(scope, receive, send))
        return handed, sent

    json_type = {"Content-Type": "application/json"}
    handed, sent = run({**json_type, "Authorization": f"Bearer {api_keys['decider']}"}, good)
    assert handed == [] and sent[0]["status"] == 200 and json.loads(sent[1]["body"])["uscc"] == story_uscc
    for headers, body in [
        (json_type, good),  # no key
        ({**json_type, "Authorization": "Bearer cl_00000000_" + "x" * 40}, good),  # unknown key
        ({**json_type, "Authorization": f"Basic {api_keys['decider']}"}, good),  # not a bearer key
        ({**json_type, "Authorization": f"Bearer {api_keys['analyst']}"}, good),  # may not decide
        ({**json_type, "Authorization": f"Bearer {api_keys['decider']}"}, b'{"uscc": "nope", "amount": 1}'),
        ({**json_type, "Authorization": f"Bearer {api_keys['decider']}"}, b'{"uscc": '),  # not JSON
        ({"Content-Type": "text/plain", "Authorization": f"Bearer {api_keys['decider']}"}, good),
    ]:
        handed, sent = run(headers, body)
        assert handed == [body] and sent == [], headers
    assert run({"Authorization": f"Bearer {api_keys['decider']}"}, b"", method="GET") == ([b""], [])


def test_decisions_over_the_rate_limit_are_429(served_workspace: Path, story_uscc: str) -> None:
    from chainlight.serve.keys import KeyStore
    cfg = Config.model_validate({"serve": {"rate_limit_per_second": 3}})
    headers = {"Authorization": f"Bearer {KeyStore(served_workspace).create('decider')[1]}"}
    with TestClient(create_app(served_workspace, cfg)) as limited:
        responses = [limited.post("/v1/decisions", json={"uscc": story_uscc, "amount": 1000.0}, headers=headers)
                     for _ in range(8)]
    codes = [r.status_code for r in responses]
    assert codes.count(200) <= 6 and 429 in codes  # at most two one-second windows' worth
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] == "1" and refused.json()["error"] == "rate_limited"


def test_the_served_decision_is_the_validated_model(client: TestClient) -> None:
    """The service answers with the decision dict as composed (no second validation) written by orjson:
    for every firm and a spread of amounts it must be byte for byte the validated ``Decision``'s JSON,
    and each reason the validated ``Reason``."""
    from chainlight.risk.decide import Decision, Reason
    from chainlight.serve.app import _decision_json

    engine = client.app.state.service._decisions  # type: ignore[attr-defined]
    assert engine is not None
    firms = sorted(engine.features)
    assert len(firms) >= 20
    decisions = set()
    for number, uscc in enumerate(firms):
        amount = (1_000, 250_000.5, 3_000_000, 80_000_000)[number % 4]
        fields, _ = engine.compose_view(uscc, amount, f"APP-{number}", "chain")
        record = {**fields, "audit_entry_id": number + 1, "decided_at": "2026-01-02T03:04:05.000006+00:00"}
        model = Decision(**record)
        assert record == model.model_dump()
        assert _decision_json(record) == model.model_dump_json().encode("utf-8")
        assert all(reason == Reason(**reason).model_dump() for reason in record["reasons"])
        decisions.add(record["decision"])
    assert len(decisions) >= 2, "the sample covers more than one outcome"
