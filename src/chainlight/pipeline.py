"""The batch stages in pipeline order, found by package name so later stages plug in without edits here."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Protocol

from chainlight.config import Config
from chainlight.errors import InputError, NotBuiltYet
from chainlight.workspace import StageResult, Workspace

# name -> the issue that delivers it (for a clear message while it does not exist yet)
STAGES: dict[str, str] = {
    "ontology": "Knowledge",
    "resolve": "Entity resolution",
    "extract": "Knowledge",
    "mount": "Mounting",
    "graph": "The supply graph",
    "expert": "Expert",
    "risk": "Risk engine",
}


class StageRunner(Protocol):
    def __call__(self, ws: Workspace, cfg: Config) -> StageResult: ...


def is_built(stage: str) -> bool:
    return importlib.util.find_spec(f"chainlight.{stage}") is not None and hasattr(
        importlib.import_module(f"chainlight.{stage}"), "run")


def runner(stage: str) -> StageRunner:
    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}; stages are: {', '.join(STAGES)}", field="--stage")
    if not is_built(stage):
        raise NotBuiltYet(f"stage {stage!r} is not built yet (it arrives with the {STAGES[stage]} issue)")
    run: StageRunner = importlib.import_module(f"chainlight.{stage}").run
    return run


def built_stages() -> list[str]:
    return [s for s in STAGES if is_built(s)]


def run_stages(ws: Workspace, cfg: Config, stages: list[str] | None = None,
               on_stage: Callable[[str], None] | None = None) -> list[StageResult]:
    """Run the named stages (default: every built one) in pipeline order, each atomically."""
    chosen = stages or built_stages()
    runners = {s: runner(s) for s in chosen}
    results = []
    for stage in STAGES:
        if stage in runners:
            if on_stage:
                on_stage(stage)
            results.append(runners[stage](ws, cfg))
    return results
