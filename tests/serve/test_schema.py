"""Schemathesis against /openapi.json: generated valid and invalid requests on every operation get no 5xx
and responses that match the published schema (bounded, derandomised examples)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -e '.[test]')")
pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

from chainlight.config import Config  # noqa: E402
from chainlight.serve import create_app  # noqa: E402

EXAMPLES = 25


@pytest.fixture(scope="module")
def schema(served_workspace: Path) -> Any:
    cfg = Config.model_validate({"serve": {"rate_limit_per_second": 1_000_000}})
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(served_workspace, cfg))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_5xx_and_responses_match_the_schema(schema: Any, api_keys: dict[str, str], mode: GenerationMode) -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/decisions", "GET /v1/enterprises/{uscc}", "GET /v1/enterprises", "GET /v1/chains",
        "GET /v1/chains/{chain_id}", "GET /v1/audit/verify", "GET /healthz", "GET /metrics"}
    headers = {"Authorization": f"Bearer {api_keys['decider']}"}
    statuses: list[int] = []
    for operation in operations:
        try:
            _fuzz(operation, mode, headers, statuses)
        except Unsatisfiable:  # nothing invalid to send (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.path
    assert statuses and all(s < 500 for s in statuses)


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], statuses: list[int]) -> None:
    excluded = []
    if operation.path == "/v1/decisions":  # a USCC's check character is beyond JSON Schema: its 422 is right
        excluded.append(positive_data_acceptance)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = case.call_and_validate(headers=headers, excluded_checks=excluded)
        statuses.append(response.status_code)

    check()
