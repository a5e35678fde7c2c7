"""The batch stages in pipeline order, found by package name so later stages plug in without edits here."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Protocol

from chainlight.config import Config
from chainlight.engine import Engine
from chainlight.errors import EngineUnsupported, InputError, NotBuiltYet
from chainlight.workspace import StageResult, Workspace

#: What a stage needs from the engine unless its package says otherwise (``ENGINE_NEEDS``): the stages
#: that pull whole tables into Python (numpy, scipy, forked workers) need an in-process engine.
DEFAULT_NEEDS: frozenset[str] = frozenset({"in_process"})

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


def engine_needs(stage: str) -> frozenset[str]:
    """The engine capabilities stage ``stage`` (a pipeline stage or ``ingest``) declares it needs."""
    needs: frozenset[str] = frozenset(getattr(importlib.import_module(f"chainlight.{stage}"), "ENGINE_NEEDS", DEFAULT_NEEDS))
    return needs


def check_engine(engine: Engine, stages: list[str]) -> None:
    """Refuse, before anything runs, stages the engine cannot run: one line naming them and why."""
    lacking = {s: sorted(engine_needs(s) - engine.capabilities) for s in stages}
    lacking = {s: caps for s, caps in lacking.items() if caps}
    if lacking:
        names = ", ".join(f"{s!r} (needs {', '.join(c)})" for s, c in lacking.items())
        runnable = " ".join(f"--stage {s}" for s in stages if s not in lacking)
        raise EngineUnsupported(f"stage{'s' if len(lacking) > 1 else ''} {names} cannot run on the "
                                f"{engine.name} engine yet; run {'them' if len(lacking) > 1 else 'it'} with --engine duckdb"
                                + (f" (the others run here: {runnable})" if runnable else ""))


def built_stages() -> list[str]:
    return [s for s in STAGES if is_built(s)]


def run_stages(ws: Workspace, cfg: Config, stages: list[str] | None = None,
               on_stage: Callable[[str], None] | None = None) -> list[StageResult]:
    """Run the named stages (default: every built one) in pipeline order, each atomically."""
    chosen = stages or built_stages()
    runners = {s: runner(s) for s in chosen}
    check_engine(ws.engine, [s for s in STAGES if s in runners])
    results = []
    for stage in STAGES:
        if stage in runners:
            if on_stage:
                on_stage(stage)
            results.append(runners[stage](ws, cfg))
    return results
