"""``chainlight eval``: each stage's quality against ground truth, as one nested dict.

Each stage adds a module ``chainlight.eval.<stage>`` with ``evaluate(ws, truth) -> dict | None``;
a stage whose tables or truth are absent returns None and its keys are left out (DESIGN.md).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from chainlight.workspace import Workspace

# Order of the keys in the printed object; modules that do not exist yet are skipped.
SECTIONS = ["ingest", "extract", "resolve", "mount", "graph", "expert", "credit", "claims"]

TRUTH_DIR = "truth"


def default_truth(ws: Workspace) -> Path | None:
    """The demo writes the synthetic truth beside the workspace's inputs; look there first."""
    for candidate in (ws.root / "inputs" / TRUTH_DIR, ws.root / TRUTH_DIR):
        if candidate.is_dir():
            return candidate
    return None


def evaluate(ws: Workspace, truth: Path | None = None) -> dict[str, Any]:
    truth = truth or default_truth(ws)
    report: dict[str, Any] = {}
    for section in SECTIONS:
        name = f"chainlight.eval.{section}"
        if importlib.util.find_spec(name) is None:
            continue
        result = importlib.import_module(name).evaluate(ws, truth)
        if result is not None:
            report[section] = result
    return report
