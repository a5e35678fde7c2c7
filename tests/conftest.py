"""Shared fixtures: a fresh workspace, the shared real-data folder, and CLI invocation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainlight.config import Config
from chainlight.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """``../shared/data`` beside the repo, or ``$CHAINLIGHT_SHARED_DATA``."""
    return Path(os.environ.get("CHAINLIGHT_SHARED_DATA", REPO.parent / "shared" / "data"))


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
