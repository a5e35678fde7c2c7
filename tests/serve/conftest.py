"""TestClient fixtures over the served copy of the tiny workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from fastapi.testclient import TestClient  # noqa: E402

from chainlight.config import Config  # noqa: E402
from chainlight.serve import create_app  # noqa: E402

STORY_NAME = "嘉兴丞达新材料科技有限公司"


@pytest.fixture(scope="session")
def app(served_workspace: Path) -> Any:
    return create_app(served_workspace, Config())


@pytest.fixture(scope="session")
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def analyst(api_keys: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_keys['analyst']}"}


@pytest.fixture(scope="session")
def decider(api_keys: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_keys['decider']}"}


@pytest.fixture(scope="session")
def story_uscc(client: TestClient, analyst: dict[str, str]) -> str:
    hits = client.get("/v1/enterprises", params={"q": STORY_NAME}, headers=analyst).json()["results"]
    assert hits and hits[0]["name"] == STORY_NAME
    return str(hits[0]["uscc"])
