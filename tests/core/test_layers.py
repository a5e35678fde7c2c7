"""Data flows one way: the import-linter contract holds, and it would catch a stage importing a later one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([*LINT, "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_stages_import_earlier_stages_only() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Pipeline stages import earlier stages only KEPT" in result.stdout


def test_a_stage_importing_a_later_one_breaks_the_contract(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    offline = copy / "src" / "chainlight" / "extract" / "offline.py"
    offline.write_text(offline.read_text(encoding="utf-8") + "\nfrom chainlight.mount import run as _later  # noqa\n",
                       encoding="utf-8")
    result = _lint(copy)
    assert result.returncode != 0
    assert "chainlight.extract is not allowed to import chainlight.mount" in result.stdout
