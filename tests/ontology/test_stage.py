"""Stage ``ontology``: the five tables, their contents on a tiny ontology, repeatability and atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_validate import segment, tiny, write

from chainlight import ontology
from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.ontology.model import load_default
from chainlight.workspace import Workspace

TABLES = ("chains", "segments", "segment_edges", "lexicon", "product_edges")


def rows(ws: Workspace, table: str) -> list[dict]:
    return ws.engine.query(f"SELECT * EXCLUDE (run_id) FROM {table} ORDER BY ALL").to_pylist()


def test_default_ontology_tables(ws: Workspace) -> None:
    result = ontology.run(ws, Config())
    default = load_default()
    assert result.tables == {"chains": 9, "segments": len(default.segments()), "segment_edges": len(default.edges()),
                             "lexicon": result.tables["lexicon"], "product_edges": 0}
    for table in TABLES:
        assert "run_id" in [c for c, _ in ws.engine.columns(table)]
        run_ids = ws.engine.query(f"SELECT DISTINCT run_id FROM {table}").column(0).to_pylist()
        assert run_ids == ([result.run_id] if result.tables[table] else [])
    assert ws.engine.scalar("SELECT count(*) FROM segment_edges WHERE cross_chain") == result.stats["cross_chain_edges"] > 0
    assert ws.engine.scalar("SELECT count(DISTINCT ontology_version) FROM chains") == 1
    kinds = {r["kind"] for r in ws.engine.query("SELECT DISTINCT kind FROM lexicon").to_pylist()}
    assert kinds == {"product", "synonym", "scope_term", "tax_code", "ipc", "industry_code"}
    nylon = ws.engine.query("SELECT segment_id, concept, kind FROM lexicon WHERE normalised = 'pa6t'").to_pylist()
    assert nylon == [{"segment_id": "automotive.engineering_plastics", "concept": "耐高温尼龙", "kind": "synonym"}]


def test_tiny_ontology_rows_by_eye(ws: Workspace, tmp_path: Path) -> None:
    doc = tiny()
    segment(doc, 0, 0)["products"][0]["synonyms"].append("ＰＡ６")
    segment(doc, 0, 1)["parent"] = "agri.seed"
    ontology.run(ws, Config(ontology=write(tmp_path, doc)))
    assert rows(ws, "chains") == [
        {"chain_id": "agri", "name": "农业", "tiers": '["raw", "processed"]', "ontology_version": "t-1"},
        {"chain_id": "chem", "name": "化工", "tiers": '["base"]', "ontology_version": "t-1"}]
    assert json.loads(rows(ws, "chains")[0]["tiers"]) == ["raw", "processed"]
    assert rows(ws, "segments") == [
        {"segment_id": "agri.grain", "chain_id": "agri", "name": "粮食", "tier": "processed", "tier_rank": 1,
         "parent_id": "agri.seed"},
        {"segment_id": "agri.seed", "chain_id": "agri", "name": "种子", "tier": "raw", "tier_rank": 0, "parent_id": None},
        {"segment_id": "chem.pesticide", "chain_id": "chem", "name": "农药", "tier": "base", "tier_rank": 0,
         "parent_id": None}]
    assert rows(ws, "segment_edges") == [
        {"source_segment_id": "agri.seed", "target_segment_id": "agri.grain", "weight": 0.4, "cross_chain": False},
        {"source_segment_id": "chem.pesticide", "target_segment_id": "agri.seed", "weight": 0.2, "cross_chain": True}]
    lexicon = {(r["normalised"], r["kind"], r["segment_id"]): (r["term"], r["concept"], r["weight"])
               for r in rows(ws, "lexicon")}
    assert lexicon == {
        ("玉米种子", "product", "agri.seed"): ("玉米种子", "玉米种子", 1.0),
        ("玉米种", "synonym", "agri.seed"): ("玉米种", "玉米种子", 1.0),
        ("pa6", "synonym", "agri.seed"): ("ＰＡ６", "玉米种子", 1.0),
        ("种子生产", "scope_term", "agri.seed"): ("种子生产", "种子生产", 0.5),  # shared by two segments
        ("种子生产", "scope_term", "agri.grain"): ("种子生产", "种子生产", 0.5),
        ("大米", "product", "agri.grain"): ("大米", "大米", 1.0),
        ("稻米", "synonym", "agri.grain"): ("稻米", "大米", 1.0),
        ("草甘膦", "product", "chem.pesticide"): ("草甘膦", "草甘膦", 1.0)}


def test_product_edges_table(ws: Workspace, tmp_path: Path) -> None:
    doc = tiny()
    doc["product_edges_file"] = "edges.csv"
    (tmp_path / "edges.csv").write_text("source,target,relation\n水稻,大米,upstream_of\n种子,玉米 种子,subcategory\n",
                                        encoding="utf-8")
    result = ontology.run(ws, Config(ontology=write(tmp_path, doc)))
    assert result.tables["product_edges"] == 2
    joined = ws.engine.query("""SELECT e.source, l.segment_id FROM product_edges e
                                JOIN lexicon l ON l.normalised = e.target_normalised ORDER BY 1""").to_pylist()
    assert joined == [{"source": "水稻", "segment_id": "agri.grain"}, {"source": "种子", "segment_id": "agri.seed"}]


def test_running_twice_gives_the_same_rows(ws: Workspace) -> None:
    first = ontology.run(ws, Config())
    before = {t: rows(ws, t) for t in TABLES}
    second = ontology.run(ws, Config())
    assert second.run_id != first.run_id
    assert {t: rows(ws, t) for t in TABLES} == before
    assert ws.engine.scalar("SELECT min(run_id) FROM segments") == second.run_id


def test_bad_ontology_keeps_the_previous_tables(ws: Workspace, tmp_path: Path) -> None:
    good = ontology.run(ws, Config(ontology=write(tmp_path, tiny())))
    before = {t: ws.engine.query(f"SELECT * FROM {t} ORDER BY ALL").to_pylist() for t in TABLES}
    doc = tiny()
    doc["chains"][0]["edges"].append({"source": "agri.grain", "target": "chem.pesticide"})
    with pytest.raises(InputError, match="cycle"):
        ontology.run(ws, Config(ontology=write(tmp_path, doc, "broken.yaml")))
    broken_yaml = tmp_path / "syntax.yaml"
    broken_yaml.write_text("chains: [", encoding="utf-8")
    with pytest.raises(InputError, match="syntax.yaml"):
        ontology.run(ws, Config(ontology=broken_yaml))
    assert {t: ws.engine.query(f"SELECT * FROM {t} ORDER BY ALL").to_pylist() for t in TABLES} == before
    statuses = ws.engine.query("SELECT status FROM runs WHERE stage = 'ontology' ORDER BY started_at").column(0)
    assert statuses.to_pylist() == ["ok", "failed", "failed"]
    assert ws.last_run("ontology")["run_id"] == good.run_id


def test_stage_is_found_by_the_pipeline(ws: Workspace) -> None:
    from chainlight import pipeline
    assert pipeline.is_built("ontology")
    results = pipeline.run_stages(ws, Config(), ["ontology"])
    assert [r.stage for r in results] == ["ontology"]


def test_unknown_ontology_file_is_an_input_error(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read ontology"):
        ontology.run(ws, Config(ontology=tmp_path / "absent.yaml"))
    assert not ws.table_exists("chains")


def test_written_yaml_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, tiny())
    loaded = ontology.load(path)
    again = write(tmp_path, loaded.model_dump(exclude_defaults=True), "again.yaml")
    assert ontology.load(again).model_dump() == loaded.model_dump()
    assert yaml.safe_load(again.read_text(encoding="utf-8"))["version"] == "t-1"
