"""The LLM client against a scripted local server: retries, cache, budget, bad output, rejected facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_llm import Script, fake_llm, ok

from chainlight.config import LLMSettings
from chainlight.extract.cascade import LLMFacts, llm_facts
from chainlight.extract.facts import Document, Rejected, verify
from chainlight.extract.llm import LLMClient

GOOD = json.dumps({"facts": [{"kind": "product_segment", "span_text": "耐高温尼龙",
                              "segment_id": "automotive.engineering_plastics"}]})
DOC = Document(id="p1", kind="product", text="本公司生产耐高温尼龙，用于汽车进气歧管。")
SEGMENTS = {"automotive.engineering_plastics", "automotive.castings"}


def client(url: str, tmp_path: Path, **settings: object) -> LLMClient:
    return LLMClient(LLMSettings(base_url=url, **{"retries": 3, "timeout_s": 2.0, **settings}),
                     tmp_path / "cache.sqlite", backoff_s=0.01)


def test_valid_answer_is_parsed_and_verified(tmp_path: Path) -> None:
    script = Script(ok(GOOD))
    with fake_llm(script) as url:
        llm = client(url, tmp_path)
        [fact] = llm_facts(llm, [DOC], sorted(SEGMENTS))
    kept = verify(fact, DOC, lambda n: None, SEGMENTS)
    assert not isinstance(kept, Rejected)
    assert (kept.start, kept.end, kept.method) == (5, 10, "llm")
    assert script.bodies[0]["response_format"]["type"] == "json_object"
    assert "schema" in script.bodies[0]["response_format"]
    assert "untrusted" in script.bodies[0]["messages"][0]["content"]


def test_second_run_hits_the_cache_and_makes_no_calls(tmp_path: Path) -> None:
    script = Script(ok(GOOD))
    with fake_llm(script) as url:
        client(url, tmp_path).complete("facts_v1", "sys", DOC.text, LLMFacts)
        again = client(url, tmp_path)
        assert again.complete("facts_v1", "sys", DOC.text, LLMFacts) is not None
    assert script.calls == 1 and again.stats.cache_hits == 1 and again.stats.calls == 0


def test_429_then_success_is_retried_with_retry_after(tmp_path: Path) -> None:
    script = Script((429, "", 0.0, {"Retry-After": "0.05"}), (503, "", 0.0, {}), ok(GOOD))
    with fake_llm(script) as url:
        llm = client(url, tmp_path)
        assert llm.complete("facts_v1", "sys", DOC.text, LLMFacts) is not None
    assert script.calls == 3 and llm.stats.retries == 2 and llm.stats.failures == 0


def test_timeouts_exhaust_retries_and_fail_softly(tmp_path: Path) -> None:
    script = Script((200, GOOD, 1.5, {}))
    with fake_llm(script) as url:
        llm = client(url, tmp_path, timeout_s=0.2, retries=1)
        assert llm.complete("facts_v1", "sys", DOC.text, LLMFacts) is None
    assert llm.stats.failures == 1 and llm.stats.retries == 1


def test_malformed_json_is_counted_not_cached(tmp_path: Path) -> None:
    script = Script(ok("{not json"), ok('{"facts": [{"kind": "gossip", "span_text": "x"}]}'))
    with fake_llm(script) as url:
        llm = client(url, tmp_path)
        assert llm.complete("facts_v1", "sys", "a", LLMFacts) is None
        assert llm.complete("facts_v1", "sys", "a", LLMFacts) is None
    assert llm.stats.invalid_outputs == 2 and script.calls == 2


def test_client_errors_are_not_retried(tmp_path: Path) -> None:
    script = Script((400, "", 0.0, {}))
    with fake_llm(script) as url:
        assert client(url, tmp_path).complete("facts_v1", "sys", "a", LLMFacts) is None
    assert script.calls == 1


def test_budget_stops_calls(tmp_path: Path) -> None:
    script = Script(ok(GOOD))
    texts = [f"产品{i}：耐高温尼龙" for i in range(5)]
    with fake_llm(script) as url:
        llm = client(url, tmp_path, max_calls=2, concurrency=2)
        answers = llm.map("facts_v1", "sys", texts, LLMFacts)
    assert sum(a is not None for a in answers) == 2 and llm.stats.budget_skipped == 3 and script.calls == 2


def test_made_up_spans_and_firms_are_rejected_with_reasons(tmp_path: Path) -> None:
    answer = json.dumps({"facts": [
        {"kind": "product_segment", "span_text": "碳纤维复合材料", "segment_id": "automotive.engineering_plastics"},
        {"kind": "product_segment", "span_text": "耐高温尼龙", "segment_id": "aerospace.rockets"},
        {"kind": "supply_claim", "span_text": "耐高温尼龙", "subject": "神秘公司", "object": "远航汽车"}]})
    with fake_llm(Script(ok(answer))) as url:
        facts = llm_facts(client(url, tmp_path), [DOC], sorted(SEGMENTS))
    reasons = [r.reason for r in (verify(f, DOC, lambda n: None, SEGMENTS) for f in facts) if isinstance(r, Rejected)]
    assert reasons == ["span not found in the source text", "unknown segment 'aerospace.rockets'",
                       "firm '神秘公司' is not named in the span"]


def test_no_endpoint_means_llm_unavailable(tmp_path: Path) -> None:
    from chainlight.errors import LLMUnavailable
    with pytest.raises(LLMUnavailable):
        LLMClient(LLMSettings(), tmp_path / "c.sqlite")
