"""The chain ontology: validation with clear errors, the stage's tables, and building from real data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chainlight import ontology
from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.ontology.model import load_default, load_file
from chainlight.ontology.validate import problems
from chainlight.workspace import Workspace

GOOD = """
version: t1
chains:
  - id: c
    name: 测试链
    tiers: [material, assembly]
    segments:
      - {id: c.a, name: 材料, tier: material, products: [{name: 尼龙, synonyms: [PA66]}]}
      - {id: c.b, name: 整机, tier: assembly, products: [{name: 整车}]}
    edges: [{source: c.a, target: c.b, weight: 0.4}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ontology.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_ontology_is_valid() -> None:
    default = load_default()
    assert len(default.chains) == 9 and problems(default) == []


@pytest.mark.parametrize("change,message", [
    (("c.b, target: c.b", "c.b, target: c.a"), "cycle"),
    (("{source: c.a, target: c.b", "{source: c.a, target: c.z"), "unknown segment c.z"),
    (("id: c.b, name: 整机", "id: c.a, name: 整机"), "duplicate id"),
    (("name: 整车", "name: 尼龙"), "product term '尼龙' is in segments c.a, c.b"),
    (("synonyms: [PA66]", "synonyms: [尼龙]"), "appears twice"),
    (("weight: 0.4", "weight: 1.5"), "outside (0, 1]"),
    (("tier: assembly, products", "tier: retail, products"), "tier 'retail'"),
])
def test_broken_ontologies_name_the_problem(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = GOOD.replace(*change)
    if message == "cycle":
        text = text.replace("edges: [{source: c.a, target: c.b, weight: 0.4}]",
                            "edges: [{source: c.a, target: c.b, weight: 0.4}, {source: c.b, target: c.a}]")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ontology.load(Config(ontology=write(tmp_path, text)))


def test_shared_terms_are_allowed_when_marked(tmp_path: Path) -> None:
    text = GOOD.replace("{name: 尼龙, synonyms: [PA66]}", "{name: 尼龙, synonyms: [PA66], shared: true}") \
               .replace("{name: 整车}", "{name: 尼龙, shared: true}")
    assert ontology.load(Config(ontology=write(tmp_path, text))).version == "t1"


def test_stage_writes_tables_and_is_repeatable(ws: Workspace) -> None:
    first = ontology.run(ws, Config())
    assert first.tables["chains"] == 9 and first.tables["segments"] == 60
    lexicon = ws.engine.query("SELECT kind, segment_id FROM lexicon WHERE term = '耐高温尼龙'").to_pylist()
    assert lexicon == [{"kind": "product", "segment_id": "automotive.engineering_plastics"}]
    assert ws.engine.scalar("SELECT count(*) FROM segment_edges WHERE cross_chain") > 0
    rows = ws.engine.query("SELECT * EXCLUDE (run_id) FROM segments ORDER BY segment_id").to_pylist()
    ontology.run(ws, Config())
    assert ws.engine.query("SELECT * EXCLUDE (run_id) FROM segments ORDER BY segment_id").to_pylist() == rows


def test_bad_ontology_keeps_previous_tables(ws: Workspace, tmp_path: Path) -> None:
    ontology.run(ws, Config())
    with pytest.raises(InputError):
        ontology.run(ws, Config(ontology=write(tmp_path, GOOD.replace("weight: 0.4", "weight: -1"))))
    assert ws.row_count("segments") == 60


def test_missing_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        ontology.load(Config(ontology=tmp_path / "nope.yaml"))


def chain_kg() -> Path:
    root = Path(os.environ.get("CHAINLIGHT_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    if not (root / "chain_kg").is_dir():
        pytest.skip(f"real data {root / 'chain_kg'} is absent (set CHAINLIGHT_SHARED_DATA)")
    return root / "chain_kg"


def test_build_from_real_chain_data(tmp_path: Path) -> None:
    import json
    source = chain_kg()
    out = tmp_path / "sw.yaml"
    result = subprocess.run([sys.executable, "-m", "chainlight", "ontology", "build", "--from", str(source),
                             "--out", str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    built = load_file(out)
    assert problems(built) == []
    codes = [json.loads(line)["code"] for line in (source / "industry.jsonl").read_text(encoding="utf-8").splitlines()]
    level3 = [c for c in codes if not c.endswith("00")]
    assert len(built.segments()) == len(level3)
    assert len(built.chains) == len({c[:2] for c in level3})
    assert sum(len(s.products) for s in built.segments().values()) > 1000
    with Workspace(tmp_path / "ws") as ws:
        assert ontology.run(ws, Config(ontology=out)).tables["segments"] == len(level3)


def test_build_names_a_wrong_folder(tmp_path: Path) -> None:
    from chainlight.ontology.build import build_from_chain_kg
    with pytest.raises(InputError, match="not a chain_kg folder"):
        build_from_chain_kg(tmp_path, tmp_path / "x.yaml")
