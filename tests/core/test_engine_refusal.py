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


@pytest.fixture(autouse=True)
def _risk_needs_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every built stage runs on every engine now; the refusal is shown on risk made to need ``in_process``."""
    import chainlight.risk
    monkeypatch.setattr(chainlight.risk, "ENGINE_NEEDS", frozenset({"in_process"}))


def test_every_built_stage_runs_on_an_engine_without_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    from chainlight.pipeline import built_stages
    assert built_stages() and all(not engine_needs(s) for s in built_stages())
    check_engine(_engine(set()), built_stages())


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
