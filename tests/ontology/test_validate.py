"""Validation: the default ontology passes; each kind of broken YAML fails with one line naming the file and the id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from chainlight.errors import InputError
from chainlight.ontology.model import load_default, load_file, normalise_term
from chainlight.ontology.validate import problems, validate

Doc = dict[str, Any]


def tiny() -> Doc:
    """Two chains, three segments, one cross-chain edge: valid as written."""
    return {"version": "t-1", "chains": [
        {"id": "agri", "name": "农业", "tiers": ["raw", "processed"], "segments": [
            {"id": "agri.seed", "name": "种子", "tier": "raw",
             "products": [{"name": "玉米种子", "synonyms": ["玉米种"]}], "scope_terms": ["种子生产"]},
            {"id": "agri.grain", "name": "粮食", "tier": "processed",
             "products": [{"name": "大米", "synonyms": ["稻米"], "weight": 1.0}], "scope_terms": ["种子生产"]}],
         "edges": [{"source": "agri.seed", "target": "agri.grain", "weight": 0.4}]},
        {"id": "chem", "name": "化工", "tiers": ["base"], "segments": [
            {"id": "chem.pesticide", "name": "农药", "tier": "base", "products": [{"name": "草甘膦"}]}],
         "edges": [{"source": "chem.pesticide", "target": "agri.seed", "weight": 0.2}]}]}


def write(tmp_path: Path, doc: Doc, name: str = "onto.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def error_of(tmp_path: Path, doc: Doc) -> str:
    path = write(tmp_path, doc)
    with pytest.raises(InputError) as caught:
        validate(load_file(path))
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


def segment(doc: Doc, chain: int, index: int) -> Doc:
    result: Doc = doc["chains"][chain]["segments"][index]
    return result


def test_default_ontology_loads_and_validates() -> None:
    ontology = load_default()
    assert len(ontology.chains) == 9
    assert problems(ontology) == []
    assert len(ontology.segments()) == sum(len(c.segments) for c in ontology.chains)


def test_tiny_ontology_is_valid(tmp_path: Path) -> None:
    assert problems(load_file(write(tmp_path, tiny()))) == []


def _cycle(doc: Doc) -> None:
    doc["chains"][0]["edges"].append({"source": "agri.grain", "target": "chem.pesticide"})


def _dangling(doc: Doc) -> None:
    doc["chains"][0]["edges"].append({"source": "agri.seed", "target": "agri.missing"})


def _self_loop(doc: Doc) -> None:
    doc["chains"][0]["edges"].append({"source": "agri.seed", "target": "agri.seed"})


def _duplicate_edge(doc: Doc) -> None:
    doc["chains"][1]["edges"].append({"source": "agri.seed", "target": "agri.grain"})


def _duplicate_id(doc: Doc) -> None:
    segment(doc, 1, 0)["id"] = "agri.seed"


def _duplicate_chain(doc: Doc) -> None:
    doc["chains"][1]["id"] = "agri"


def _duplicate_term(doc: Doc) -> None:
    segment(doc, 1, 0)["products"].append({"name": "玉米种子"})


def _duplicate_synonym_across(doc: Doc) -> None:
    segment(doc, 1, 0)["products"][0]["synonyms"] = ["ＰＡ６", "稻米"]  # 稻米 is agri.grain's synonym


def _duplicate_within(doc: Doc) -> None:
    segment(doc, 0, 0)["products"].append({"name": "玉米 种"})  # same as the synonym once normalised


def _bad_edge_weight(doc: Doc) -> None:
    doc["chains"][0]["edges"][0]["weight"] = 1.5


def _zero_edge_weight(doc: Doc) -> None:
    doc["chains"][0]["edges"][0]["weight"] = 0


def _bad_product_weight(doc: Doc) -> None:
    segment(doc, 0, 1)["products"][0]["weight"] = -0.1


def _unknown_tier(doc: Doc) -> None:
    segment(doc, 0, 1)["tier"] = "retail"


def _empty_name(doc: Doc) -> None:
    segment(doc, 0, 1)["name"] = "  "


def _empty_synonym(doc: Doc) -> None:
    segment(doc, 0, 1)["products"][0]["synonyms"] = [""]


def _parent_other_chain(doc: Doc) -> None:
    segment(doc, 0, 1)["parent"] = "chem.pesticide"


def _parent_cycle(doc: Doc) -> None:
    segment(doc, 0, 0)["parent"] = "agri.grain"
    segment(doc, 0, 1)["parent"] = "agri.seed"


def _repeated_scope_term(doc: Doc) -> None:
    segment(doc, 0, 0)["scope_terms"] = ["种子生产", "种子 生产"]


def _repeated_tier(doc: Doc) -> None:
    doc["chains"][0]["tiers"] = ["raw", "processed", "raw"]


CASES: list[tuple[str, Callable[[Doc], None], list[str]]] = [
    ("cycle", _cycle, ["cycle", "agri.grain → chem.pesticide → agri.seed → agri.grain"]),
    ("dangling edge", _dangling, ["unknown segment 'agri.missing'", "agri.seed → agri.missing"]),
    ("self-loop", _self_loop, ["cycle", "agri.seed → agri.seed"]),
    ("duplicate edge", _duplicate_edge, ["agri.seed → agri.grain is listed twice"]),
    ("duplicate segment id", _duplicate_id, ["duplicate segment id 'agri.seed'"]),
    ("duplicate chain id", _duplicate_chain, ["duplicate chain id 'agri'"]),
    ("duplicate term across segments", _duplicate_term, ["'玉米种子'", "'agri.seed'", "'chem.pesticide'", "shared: true"]),
    ("duplicate synonym across segments", _duplicate_synonym_across, ["'稻米'", "'agri.grain'", "'chem.pesticide'"]),
    ("duplicate term within a segment", _duplicate_within, ["segment 'agri.seed'", "'玉米 种' twice"]),
    ("edge weight over 1", _bad_edge_weight, ["agri.seed → agri.grain", "1.5", "outside (0, 1]"]),
    ("edge weight 0", _zero_edge_weight, ["agri.seed → agri.grain", "outside (0, 1]"]),
    ("product weight negative", _bad_product_weight, ["'agri.grain'", "'大米'", "-0.1", "outside (0, 1]"]),
    ("unknown tier", _unknown_tier, ["segment 'agri.grain'", "tier 'retail'", "chain 'agri'"]),
    ("empty name", _empty_name, ["segment 'agri.grain' has an empty name"]),
    ("empty synonym", _empty_synonym, ["segment 'agri.grain'", "empty product name or synonym"]),
    ("parent in another chain", _parent_other_chain, ["segment 'agri.grain'", "parent 'chem.pesticide'"]),
    ("parent cycle", _parent_cycle, ["parent links form a cycle", "agri.seed", "agri.grain"]),
    ("scope term twice in a segment", _repeated_scope_term, ["segment 'agri.seed'", "scope_terms", "twice"]),
    ("tier listed twice", _repeated_tier, ["chain 'agri'", "tier 'raw' twice"]),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_one_clear_line(tmp_path: Path, mutate: Callable[[Doc], None], expected: list[str]) -> None:
    doc = tiny()
    mutate(doc)
    message = error_of(tmp_path, doc)
    for part in expected:
        assert part in message


def test_a_term_may_be_shared_when_every_holder_says_so(tmp_path: Path) -> None:
    doc = tiny()
    segment(doc, 1, 0)["products"].append({"name": "玉米种子", "shared": True})
    assert "shared: true" in error_of(tmp_path, doc)  # agri.seed does not mark it shared yet
    segment(doc, 0, 0)["products"][0]["shared"] = True
    assert problems(load_file(write(tmp_path, doc))) == []


def test_scope_terms_and_codes_may_repeat_across_segments(tmp_path: Path) -> None:
    doc = tiny()
    for seg in (segment(doc, 0, 0), segment(doc, 1, 0)):
        seg["industry_codes"] = ["0111"]
    assert problems(load_file(write(tmp_path, doc))) == []


def test_first_problem_says_how_many_more(tmp_path: Path) -> None:
    doc = tiny()
    _unknown_tier(doc)
    _dangling(doc)
    _bad_product_weight(doc)
    assert error_of(tmp_path, doc).endswith("(and 2 more problems)")
    assert len(problems(load_file(write(tmp_path, doc)))) == 3


def test_cross_chain_cycle_is_caught_though_each_chain_is_acyclic(tmp_path: Path) -> None:
    doc = tiny()
    doc["chains"][1]["segments"].append({"id": "chem.fertiliser", "name": "化肥", "tier": "base"})
    doc["chains"][1]["edges"].append({"source": "agri.grain", "target": "chem.fertiliser"})
    doc["chains"][1]["edges"].append({"source": "chem.fertiliser", "target": "chem.pesticide"})
    assert "cycle" in error_of(tmp_path, doc)


def test_structural_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nchains: [\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.yaml: not valid YAML"):
        load_file(path)
    doc = tiny()
    del segment(doc, 0, 1)["tier"]
    with pytest.raises(InputError, match=r"onto\.yaml, field 'chains\.0\.segments\.1\.tier': Field required"):
        load_file(write(tmp_path, doc))
    with pytest.raises(InputError, match="cannot read ontology"):
        load_file(tmp_path / "absent.yaml")


def test_product_edges_side_file_is_checked(tmp_path: Path) -> None:
    doc = tiny()
    doc["product_edges_file"] = "edges.csv"
    assert "does not exist" in error_of(tmp_path, doc)
    (tmp_path / "edges.csv").write_text("source,target,relation\n水稻,大米,upstream_of\n大米,米粉,made_of\n",
                                        encoding="utf-8")
    with pytest.raises(InputError, match=r"edges\.csv, row 3, field 'relation': .*'made_of'"):
        validate(load_file(write(tmp_path, doc)))
    (tmp_path / "edges.csv").write_text("source,target,relation\n水稻,大米,upstream_of\n种子,玉米种子,subcategory\n",
                                        encoding="utf-8")
    ontology = load_file(write(tmp_path, doc))
    assert problems(ontology) == []
    assert ontology.product_edges().to_pylist()[0] == {"source": "水稻", "target": "大米", "relation": "upstream_of"}


def test_normalise_term() -> None:
    assert normalise_term(" ＰＡ６ 6T\n") == "pa66t"
    assert normalise_term("耐高温 尼龙") == "耐高温尼龙"
