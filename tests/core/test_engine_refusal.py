"""A stage the engine cannot run is refused before anything runs, in one line that also names the stages that
can run there (so `chainlight run --engine spark` without --stage says what to run instead)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chainlight.errors import EngineUnsupported
from chainlight.pipeline import check_engine, engine_needs


def _engine(capabilities: set[str]) -> Any:
    return SimpleNamespace(name="cluster", capabilities=frozenset(capabilities))


def test_refusal_names_what_is_missing_and_what_can_run() -> None:
    assert "in_process" in engine_needs("risk") and not engine_needs("graph")
    with pytest.raises(EngineUnsupported) as raised:
        check_engine(_engine(set()), ["graph", "expert", "risk"])
    message = str(raised.value)
    assert "stage 'risk' (needs in_process) cannot run on the cluster engine yet" in message
    assert message.endswith("(the others run here: --stage graph --stage expert)")


def test_nothing_runnable_says_only_why() -> None:
    with pytest.raises(EngineUnsupported) as raised:
        check_engine(_engine(set()), ["risk"])
    assert "the others" not in str(raised.value)


def test_an_engine_with_every_need_refuses_nothing() -> None:
    check_engine(_engine({"in_process", "supports_csv_rejects", "supports_update"}), ["graph", "risk"])
