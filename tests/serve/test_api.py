"""Every endpoint's contract through the ASGI app: auth and roles, bad input, limits, what the bodies hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from fastapi.testclient import TestClient  # noqa: E402

from chainlight.config import Config  # noqa: E402
from chainlight.serve import create_app  # noqa: E402
from chainlight.serve.keys import KeyStore  # noqa: E402
from chainlight.workspace import Workspace  # noqa: E402

READ_PATHS = ["/v1/chains", "/v1/chains/automotive", "/v1/enterprises?q=丞达", "/v1/segments/automotive.engineering_plastics/firms"]


# -- auth and roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", READ_PATHS)
def test_reads_need_a_key(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "cl_12345678_" + "x" * 40,
                                    "Bearer cl_12345678_" + "x" * 40])
def test_bad_credentials_are_401(client: TestClient, header: str) -> None:
    assert client.get("/v1/chains", headers={"Authorization": header}).status_code == 401


def test_analyst_reads_but_may_not_decide(client: TestClient, analyst: dict[str, str], story_uscc: str) -> None:
    assert client.get("/v1/chains", headers=analyst).status_code == 200
    response = client.post("/v1/decisions", json={"uscc": story_uscc, "amount": 1_000_000}, headers=analyst)
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "detail": "role 'analyst' may not decide"}


def test_decider_reads_too(client: TestClient, decider: dict[str, str]) -> None:
    assert client.get("/v1/chains", headers=decider).status_code == 200


def test_revoked_key_is_refused_at_once(client: TestClient, served_workspace: Path) -> None:
    store = KeyStore(served_workspace)
    key, token = store.create("analyst", "to revoke")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/chains", headers=headers).status_code == 200
    store.revoke(key.key_id)
    assert client.get("/v1/chains", headers=headers).status_code == 401


def test_open_endpoints(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["tables"]["enterprises"] > 0
    assert client.get("/openapi.json").json()["paths"]["/v1/decisions"]["post"]
    page = client.get("/")
    assert page.status_code == 200 and "echarts.min.js" in page.text
    assert client.get("/static/vendor/echarts.min.js").status_code == 200


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    {}, {"uscc": "91330400KDDLFDGN7Q"}, {"amount": 5}, {"uscc": "91330400KDDLFDGN7X", "amount": 5},
    {"uscc": "x" * 18, "amount": 5}, {"uscc": "91330400KDDLFDGN7Q", "amount": -1},
    {"uscc": "91330400KDDLFDGN7Q", "amount": 0}, {"uscc": "91330400KDDLFDGN7Q", "amount": "lots"},
    {"uscc": "91330400KDDLFDGN7Q", "amount": 5, "extra": 1}, {"uscc": "91330400KDDLFDGN7Q", "amount": 5, "application_id": "a b"},
    [1, 2], "text"])
def test_bad_decision_bodies_are_422_with_a_message(client: TestClient, decider: dict[str, str], body: Any) -> None:
    response = client.post("/v1/decisions", json=body, headers=decider)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "invalid_request" and payload["detail"]


def test_malformed_json_is_422_not_500(client: TestClient, decider: dict[str, str]) -> None:
    response = client.post("/v1/decisions", content=b'{"uscc": ', headers={**decider, "Content-Type": "application/json"})
    assert response.status_code == 422


def test_oversized_body_is_413(client: TestClient, decider: dict[str, str]) -> None:
    big = {"uscc": "91330400KDDLFDGN7Q", "amount": 5, "application_id": "x" * (Config().serve.max_body_bytes + 10)}
    response = client.post("/v1/decisions", json=big, headers=decider)
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"


def test_oversized_chunked_body_is_413(client: TestClient, decider: dict[str, str]) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1024
    response = client.post("/v1/decisions", content=chunks(), headers={**decider, "Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("path, status", [
    ("/v1/enterprises/913304000000000000", 404), ("/v1/enterprises/short", 422), ("/v1/enterprises/" + "9" * 40, 422),
    ("/v1/chains/nope", 404), ("/v1/chains/a%20b", 422), ("/v1/segments/nope/firms", 404),
    ("/v1/segments/automotive.engineering_plastics/firms?limit=0", 422),
    ("/v1/segments/automotive.engineering_plastics/firms?limit=x", 422),
    ("/v1/enterprises?q=", 422), ("/v1/enterprises", 422), ("/v1/enterprises?q=" + "名" * 101, 422),
    ("/v1/enterprises?q=丞达&qq=typo", 422), ("/v1/segments/automotive.engineering_plastics/firms?page=2", 422),
    ("/v1/nothing", 404)])
def test_bad_reads_are_4xx(client: TestClient, analyst: dict[str, str], path: str, status: int) -> None:
    response = client.get(path, headers=analyst)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "detail"}


def test_wrong_method_is_405(client: TestClient, analyst: dict[str, str]) -> None:
    assert client.delete("/v1/chains", headers=analyst).status_code == 405


def test_rate_limit_is_per_key_and_429(served_workspace: Path) -> None:
    cfg = Config.model_validate({"serve": {"rate_limit_per_second": 5}})
    store = KeyStore(served_workspace)
    first, second = store.create("analyst")[1], store.create("analyst")[1]
    with TestClient(create_app(served_workspace, cfg)) as limited:
        codes = [limited.get("/v1/chains", headers={"Authorization": f"Bearer {first}"}).status_code for _ in range(12)]
        assert codes.count(200) <= 10 and 429 in codes  # at most two one-second windows' worth
        other = limited.get("/v1/chains", headers={"Authorization": f"Bearer {second}"})
        assert other.status_code == 200
        refused = limited.get("/v1/chains", headers={"Authorization": f"Bearer {first}"})
        if refused.status_code == 429:
            assert refused.headers["retry-after"] == "1" and refused.json()["error"] == "rate_limited"


def test_default_rate_limit_does_not_throttle_a_loan_flow() -> None:
    assert Config().serve.rate_limit_per_second >= 100


# -- what the bodies hold -------------------------------------------------------------------------------
def test_chains_list_every_chain_with_counts(client: TestClient, analyst: dict[str, str], tiny_workspace: Workspace) -> None:
    chains = client.get("/v1/chains", headers=analyst).json()
    expected = tiny_workspace.engine.query("SELECT chain_id FROM chains ORDER BY chain_id").column(0).to_pylist()
    assert [c["chain_id"] for c in chains] == expected
    firms = tiny_workspace.engine.scalar("SELECT count(*) FROM mounts WHERE rank = 1 AND chain_id = 'automotive'")
    auto = next(c for c in chains if c["chain_id"] == "automotive")
    assert auto["firms"] == firms and auto["anchors"] >= 1 and auto["segments"] > 0


def test_chain_segments_count_firms_and_flows_add_up(client: TestClient, analyst: dict[str, str],
                                                    tiny_workspace: Workspace) -> None:
    chain = client.get("/v1/chains/automotive", headers=analyst).json()
    assert sum(s["firms"] for s in chain["segments"]) == next(
        c["firms"] for c in client.get("/v1/chains", headers=analyst).json() if c["chain_id"] == "automotive")
    ranks = [s["tier_rank"] for s in chain["segments"]]
    assert ranks == sorted(ranks)
    assert chain["flows"] and all(f["amount"] > 0 and f["source"] != f["target"] for f in chain["flows"])
    plastics_to_interior = tiny_workspace.engine.scalar(
        "SELECT sum(se.amount) FROM supply_edges se JOIN mounts a ON a.uscc = se.seller_uscc AND a.rank = 1 "
        "JOIN mounts b ON b.uscc = se.buyer_uscc AND b.rank = 1 WHERE se.is_supply AND "
        "a.segment_id = 'automotive.engineering_plastics' AND b.segment_id = 'automotive.interior_parts'")
    flow = next(f for f in chain["flows"] if (f["source"], f["target"]) ==
                ("automotive.engineering_plastics", "automotive.interior_parts"))
    assert flow["amount"] == pytest.approx(plastics_to_interior) and flow["ontology"] is True
    own = {s["segment_id"] for s in chain["segments"]}
    assert {f["source"] for f in chain["flows"]} | {f["target"] for f in chain["flows"]} <= own | set(chain["outside_segments"])


def test_segment_firms_page_through(client: TestClient, analyst: dict[str, str]) -> None:
    url = "/v1/segments/automotive.engineering_plastics/firms"
    whole = client.get(url, headers=analyst).json()
    assert whole["total"] == len(whole["firms"]) > 3
    sales = [f["sales_total"] or 0 for f in whole["firms"]]
    assert sales == sorted(sales, reverse=True)
    page = client.get(url, params={"limit": 2, "offset": 1}, headers=analyst).json()
    assert [f["uscc"] for f in page["firms"]] == [f["uscc"] for f in whole["firms"][1:3]]


@pytest.mark.parametrize("query", ["嘉兴丞达新材料科技有限公司", "丞达新材料", "嘉兴承达新材料科技有限公司",
                                   "嘉兴丞达新材料科技有限公"])
def test_search_finds_the_story_firm_by_short_names_and_typos(client: TestClient, analyst: dict[str, str],
                                                             story_uscc: str, query: str) -> None:
    results = client.get("/v1/enterprises", params={"q": query}, headers=analyst).json()["results"]
    assert results and results[0]["uscc"] == story_uscc
    assert results[0]["segment_id"] == "automotive.engineering_plastics"


def test_search_by_uscc_and_for_nothing(client: TestClient, analyst: dict[str, str], story_uscc: str) -> None:
    results = client.get("/v1/enterprises", params={"q": story_uscc.lower()}, headers=analyst).json()["results"]
    assert results[0]["uscc"] == story_uscc and results[0]["method"] == "uscc"
    assert client.get("/v1/enterprises", params={"q": "zzqqxx"}, headers=analyst).json()["results"] == []
    limited = client.get("/v1/enterprises", params={"q": "汽车", "limit": 3}, headers=analyst).json()["results"]
    assert 0 < len(limited) <= 3


def test_story_profile(client: TestClient, analyst: dict[str, str], story_uscc: str, tiny_workspace: Workspace) -> None:
    profile = client.get(f"/v1/enterprises/{story_uscc}", headers=analyst).json()
    assert profile["registry"]["name"] == "嘉兴丞达新材料科技有限公司"
    assert "机械" in profile["registry"]["scope"]  # registered as machinery…
    main = profile["makes"][0]
    assert main["segment_id"] == "automotive.engineering_plastics" and main["rank"] == 1  # …really makes nylon
    assert {e["signal"] for e in main["evidence"]} >= {"invoice_item", "patent"}
    hops = tiny_workspace.engine.scalar("SELECT hops_to_anchor FROM graph_features WHERE uscc = $u", {"u": story_uscc})
    assert profile["graph"]["hops_to_anchor"] == hops
    assert profile["anchor_paths"], "the story firm reaches an automotive anchor"
    for path in profile["anchor_paths"]:
        assert path["hops"] == hops == len(path["firms"]) - 1 == len(path["amounts"])
        assert path["firms"][0] == story_uscc and path["anchor"]["is_anchor"] and path["anchor"]["chain_id"] == "automotive"
        for seller, buyer in zip(path["firms"], path["firms"][1:], strict=False):
            assert tiny_workspace.engine.scalar(
                "SELECT is_supply FROM supply_edges WHERE seller_uscc = $s AND buyer_uscc = $b", {"s": seller, "b": buyer})
    customers = {e["buyer_uscc"] for e in profile["supply"]["edges"] if e["seller_uscc"] == story_uscc}
    assert customers == set(tiny_workspace.engine.query(
        "SELECT buyer_uscc FROM supply_edges WHERE seller_uscc = $u AND is_supply", {"u": story_uscc}).column(0).to_pylist())
    total = sum(m["amount"] for m in profile["monthly_sales"])
    assert total == pytest.approx(tiny_workspace.engine.scalar(
        "SELECT sum(amount) FROM invoices WHERE seller_uscc = $u AND status IN ('normal', 'red')", {"u": story_uscc}))


def test_profile_accepts_lower_case_uscc(client: TestClient, analyst: dict[str, str], story_uscc: str) -> None:
    assert client.get(f"/v1/enterprises/{story_uscc.lower()}", headers=analyst).json()["uscc"] == story_uscc


def test_claims_carry_verdicts_and_the_invoice_check(client: TestClient, analyst: dict[str, str],
                                                     tiny_workspace: Workspace) -> None:
    if not tiny_workspace.table_exists("claim_verdicts"):
        pytest.skip("the risk stage is not built: claims have no verdicts yet")
    row = tiny_workspace.engine.query("SELECT uscc FROM claim_verdicts WHERE kind = 'supplies' AND verdict = 'contradicted' "
                                      "ORDER BY claim_id LIMIT 1").to_pylist()
    if not row:
        pytest.skip("the tiny economy has no contradicted supply claim")
    uscc = row[0]["uscc"]
    claims = client.get(f"/v1/enterprises/{uscc}", headers=analyst).json()["claims"]
    expected = {r["claim_id"]: r["verdict"] for r in tiny_workspace.engine.query(
        "SELECT claim_id, verdict FROM claim_verdicts WHERE uscc = $u OR object = $u", {"u": uscc}).to_pylist()}
    assert {c["claim_id"]: c["verdict"] for c in claims} == expected
    for claim in claims:
        assert uscc in (claim["subject_uscc"], claim["object"]) and claim["span_text"]
        if claim["kind"] == "supplies":
            invoiced = tiny_workspace.engine.scalar(
                "SELECT amount FROM supply_edges WHERE seller_uscc = $s AND buyer_uscc = $b AND is_supply",
                {"s": claim["subject_uscc"], "b": claim["object"]})
            assert claim["invoiced_amount"] == (pytest.approx(invoiced) if invoiced is not None else None)
            assert claim["object_name"]
            if claim["verdict"] == "contradicted":  # no invoices from subject to object at all
                assert claim["invoiced_amount"] is None


def test_story_profile_has_the_operating_analysis(client: TestClient, analyst: dict[str, str], story_uscc: str,
                                                  tiny_workspace: Workspace) -> None:
    if not tiny_workspace.table_exists("operating_scores"):
        pytest.skip("the expert stage is not built")
    operating = client.get(f"/v1/enterprises/{story_uscc}", headers=analyst).json()["operating"]
    score = tiny_workspace.engine.scalar("SELECT score FROM operating_scores WHERE uscc = $u", {"u": story_uscc})
    assert operating["score"] == pytest.approx(score)
    assert operating["text"] and operating["reasons"] and operating["sentences"]
    assert operating["indicators"]["hops_to_anchor"] == tiny_workspace.engine.scalar(
        "SELECT hops_to_anchor FROM profiles WHERE uscc = $u", {"u": story_uscc})
    assert operating["segment_trend"] and all(t["citations"] for t in operating["segment_trend"])


def test_metrics_count_requests_by_route_template(client: TestClient, analyst: dict[str, str], story_uscc: str) -> None:
    client.get(f"/v1/enterprises/{story_uscc}", headers=analyst)
    text = client.get("/metrics").text
    assert 'chainlight_http_requests_total{method="GET",route="/v1/enterprises/{uscc}",status="200"}' in text
    assert story_uscc not in text  # identifiers stay out of metrics
    assert "chainlight_http_request_seconds_bucket" in text


def test_decisions_say_why_when_the_risk_stage_has_not_run(served_workspace: Path, tmp_path: Path,
                                                           api_keys: dict[str, str], story_uscc: str) -> None:
    import shutil
    folder = tmp_path / "ws"
    shutil.copytree(served_workspace, folder)
    with Workspace(folder, Config()) as ws:
        ws.engine.execute("DROP TABLE risk_models")
    headers = {"Authorization": f"Bearer {api_keys['decider']}"}
    with TestClient(create_app(folder, Config())) as bare:
        response = bare.post("/v1/decisions", json={"uscc": story_uscc, "amount": 2_000_000}, headers=headers)
        assert response.status_code == 503 and response.json()["error"] == "unavailable"
        assert "the risk stage has not run" in response.json()["detail"]
        assert bare.get(f"/v1/enterprises/{story_uscc}", headers=headers).status_code == 200  # reads still work
        health = bare.get("/healthz").json()
        assert health["decisions_available"] is False and "risk stage has not run" in health["decisions_detail"]


def test_logs_carry_no_names_or_codes_from_requests(client: TestClient, analyst: dict[str, str], story_uscc: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="chainlight.serve"):
        client.get("/v1/enterprises", params={"q": "嘉兴丞达"}, headers=analyst)
        client.get(f"/v1/enterprises/{story_uscc}", headers=analyst)
        client.get("/v1/enterprises/913304000000000000", headers=analyst)
    lines = [r.getMessage() for r in caplog.records if r.name == "chainlight.serve"]
    assert any("/v1/enterprises/{uscc} 200" in line for line in lines)  # the route template, not the path
    text = "\n".join(lines)
    assert "丞达" not in text and story_uscc not in text and "913304000000000000" not in text
    assert analyst["Authorization"].split()[1] not in text
