"""The import contract (pyproject [tool.importlinter]): it holds, it covers every module, and it fails when broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "chainlight"
NOT_STAGES = {"synth", "cli", "__main__", "__init__"}  # the generator and the CLI that calls it by name


def contracts() -> list[dict]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        contracts: list[dict] = tomllib.load(handle)["tool"]["importlinter"]["contracts"]
    return contracts


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``root/src`` with the repo's contracts."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "src" / "chainlight", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_every_module_but_the_generator_is_a_source_of_the_stage_contract() -> None:
    modules = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
               if (p.suffix == ".py" or (p / "__init__.py").exists())}
    sources = {m.removeprefix("chainlight.") for m in contracts()[0]["source_modules"]}
    assert contracts()[0]["forbidden_modules"] == ["chainlight.synth"]
    assert modules - NOT_STAGES == sources


def test_contract_holds_on_the_repo(copy: Path) -> None:
    result = lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "planted", "contract"), [
    ("resolve/__init__.py", "import chainlight.synth  # noqa\n", "The stages never import the synthetic generator"),
    ("mount/__init__.py", "from chainlight.synth import names  # noqa\n", "The stages never import the synthetic generator"),
    ("synth/names.py", "import chainlight.resolve  # noqa\n", "The generator imports no stage"),
    ("synth/trade.py", "from chainlight.ontology import lexicon  # noqa\n", "Of the ontology stage the generator imports only"),
])
def test_contract_fails_when_broken(copy: Path, module: str, planted: str, contract: str) -> None:
    path = copy / "src" / "chainlight" / module
    path.write_text(path.read_text(encoding="utf-8") + planted, encoding="utf-8")
    result = lint(copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and contract in result.stdout
