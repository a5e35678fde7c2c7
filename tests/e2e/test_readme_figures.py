"""README's measured figures are generated from ``chainlight eval --json``, not typed: the block is the
stored output's rendering, and every key it shows is one that eval still produces."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from conftest import REPO, load_script

from chainlight.eval import evaluate
from chainlight.workspace import Workspace


def figures_script() -> ModuleType:
    return load_script("dev/eval_figures.py")


def readme_block_keys() -> list[str]:
    script = figures_script()
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split(script.START, 1)[1].split(script.END, 1)[0]
    return re.findall(r"^\| [^|]+ \| `([a-z0-9_.]+)` \| [^|]+ \| [^|]+ \|$", block, re.MULTILINE)


def test_readme_block_is_the_rendering_of_the_stored_eval_output() -> None:
    result = subprocess.run([sys.executable, str(REPO / "dev" / "eval_figures.py"), "--check"], check=False)
    assert result.returncode == 0, "README figures are not the stored eval output: run python dev/eval_figures.py"
    stored = json.loads((REPO / "dev" / "eval_figures.json").read_text(encoding="utf-8"))
    script = figures_script()
    keys = readme_block_keys()
    assert keys == [key for key, _ in script.FIGURES] and len(keys) >= 10
    for profile in script.PROFILES:
        for key in keys:
            script.lookup(stored["runs"][profile]["eval"], key)


def test_every_readme_figure_is_a_key_eval_produces(tiny_workspace: Workspace, tiny_economy: Path) -> None:
    report = evaluate(tiny_workspace, tiny_economy / "truth")
    script = figures_script()
    missing = []
    for key in readme_block_keys():
        try:
            value = script.lookup(report, key)
        except KeyError:
            missing.append(key)
            continue
        assert isinstance(value, int | float), key
    assert missing == []
