"""Resolution per blocking key (``resolve.registry: blocks``): each group of names is resolved against only
the registry entries its lookups reach, and every decision and link equals resolving against the whole
registry — with the production groups, with one name per group (the smallest reach), and with the
block cut-offs lowered so that they bite on a small registry."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import load_tables, table_digest
from hypothesis import given
from hypothesis import strategies as st

from chainlight import ingest, resolve
from chainlight.config import Config
from chainlight.resolve import blocks, constants, matcher
from chainlight.resolve.matcher import Resolver, char_pairs, lookups, signature
from chainlight.resolve.normalise import normalise
from chainlight.workspace import Workspace

FIRMS, SEED = 1500, 11


@pytest.fixture(scope="module")
def blind_economy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The blind profile: buyer names with typos, homophones, short names and abbreviations."""
    from chainlight import synth

    out = tmp_path_factory.mktemp("blind_economy")
    synth.generate(out, firms=FIRMS, seed=SEED, profile="blind")
    return out


def _resolved(economy: Path, folder: Path, registry: str,
              names_per_group: int = 20_000) -> tuple[dict[str, str], dict[str, int]]:
    cfg = Config.model_validate({"resolve": {"registry": registry, "names_per_group": names_per_group}})
    ws = Workspace(folder, cfg)
    try:
        assert not ingest.run(ws, cfg, [economy]).errors
        resolve.run(ws, cfg)
        methods = {r["method"]: r["n"] for r in ws.engine.query(
            "SELECT method, count(*) AS n FROM entity_links GROUP BY 1 UNION ALL "
            "SELECT 'report:' || method, count(*) FROM entity_links WHERE source = 'report' GROUP BY method").to_pylist()}
        return {t: table_digest(ws, t) for t in ("resolved_names", "entity_links")}, methods
    finally:
        ws.close()


@pytest.fixture(scope="module")
def whole(blind_economy: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, int]]:
    return _resolved(blind_economy, tmp_path_factory.mktemp("whole"), "whole")


def test_blocks_give_the_whole_registrys_decisions_and_links(blind_economy: Path, tmp_path: Path,
                                                            whole: tuple[dict[str, str], dict[str, int]]) -> None:
    digests, methods = _resolved(blind_economy, tmp_path / "ws", "blocks")
    assert digests == whole[0]
    # not vacuous: every path of the matcher and the partner context decided some mentions
    assert all(methods.get(m, 0) > 0 for m in ("exact", "alias", "structure", "model", "ambiguous", "partner",
                                               "report:exact", "report:unresolved")), methods


def test_groups_index_most_entries_under_their_blocks_alone(blind_economy: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries reached only through fuzzy blocks are marked so (``matcher.BLOCKS_ONLY``), the others not: the
    equality tests above then show that indexing those under their blocks alone changes no decision."""
    marks: list[bool] = []
    group_resolver = blocks._group_resolver

    def spy(group: pa.RecordBatch) -> tuple[Resolver, pa.RecordBatch]:
        entries = group.filter(pc.equal(group.column("row_kind"), "entry"))
        marks.extend(entries.column(matcher.BLOCKS_ONLY).to_pylist())
        return group_resolver(group)

    monkeypatch.setattr(blocks, "_group_resolver", spy)
    _resolved(blind_economy, tmp_path / "ws", "blocks")
    assert None not in marks and 0 < sum(marks) < len(marks)


def test_one_name_per_group_reaches_enough(blind_economy: Path, tmp_path: Path,
                                           whole: tuple[dict[str, str], dict[str, int]]) -> None:
    """With one name per group, a group holds exactly what its name's lookups reach: nothing another name
    brought in can hide a missing lookup."""
    assert _resolved(blind_economy, tmp_path / "ws", "blocks", names_per_group=1)[0] == whole[0]


def test_cut_offs_read_the_whole_registrys_sizes(blind_economy: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Lowered block cut-offs skip common heads and blocks: a group's own (smaller) count of a key must
    not let it read a block the whole registry finds too common."""
    monkeypatch.setattr(constants, "MAX_STRUCTURE_BLOCK", 6)
    monkeypatch.setattr(matcher, "MAX_BLOCK", 3)
    lowered = _resolved(blind_economy, tmp_path / "whole", "whole")
    assert _resolved(blind_economy, tmp_path / "blocks", "blocks", names_per_group=7)[0] == lowered[0]


def test_blocks_never_index_the_whole_registry(blind_economy: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the matcher nor the report gazetteer over the whole registry is built (nor its shared copy)."""
    def whole_index(*_: object, **__: object) -> Resolver:
        raise AssertionError("a whole-registry index was built")

    for name in ("resolver", "firm_gazetteer"):
        monkeypatch.setattr(blocks, name, whole_index)
    monkeypatch.setattr(resolve, "shared_registry", whole_index)
    _, methods = _resolved(blind_economy, tmp_path / "ws", "blocks")
    assert methods["exact"] > 0 and methods["report:exact"] > 0


A, B, C = "914403001922038216", "91440300708461136T", "91110108551385082Q"
ROWS = [(A, "嘉兴丞达新材料科技有限公司", "registered"), (B, "宁波恒驰汽车部件有限公司", "registered"),
        (C, "苏州恒驰汽车部件有限公司", "registered"), (C, "恒驰部件", "short")]


def _table(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table({k: [r[i] for r in rows] for i, k in enumerate(("uscc", "name", "kind"))})


def test_a_partial_resolver_reads_its_cut_offs_from_the_sizes_it_is_given() -> None:
    """Two entries under a head the whole registry holds 4,000 times: too common to read, whatever the
    partial index holds; told nothing, the head is read."""
    name = "恒驰汽车"
    assert Resolver.partial(_table(ROWS), {}).resolve(name) == Resolver(ROWS).resolve(name)
    crowded = {f"head:{key}": 4_000 for key in ("恒驰", "恒驰汽")} | {f"block:{lookup.key}": 4_000 for lookup in
                                                                     lookups(name) if lookup.table == "block"}
    assert Resolver.partial(_table(ROWS), crowded).resolve(name).uscc is None


def test_lookups_of_a_name_without_a_core_are_none() -> None:
    assert lookups("A") == [] and lookups("") == []
    assert {lookup.table for lookup in lookups("嘉兴丞达新材")} >= {"full", "core", "head", "block", "pre"}


def test_report_mentions_per_key_equal_the_gazetteers(ws: Workspace, tmp_path: Path) -> None:
    """Overlapping forms (a name inside a longer one, a core and its 4-character head), a form at the very
    end, an unknown legal-form name, and a report without any: the same mentions at the same offsets."""
    load_tables(ws, tmp_path / "in", {
        "enterprises": [{"uscc": uscc, "name": name} for uscc, name, kind in ROWS if kind == "registered"],
        "aliases": [{"uscc": C, "alias": "恒驰部件", "kind": "short"}],
        "reports": [{"report_id": "R1", "title": "t", "published": "2024-01-01",
                     "text": "宁波恒驰汽车部件有限公司与恒驰部件、丞达新材料签约，杭州某某新能源有限公司扩产，见恒驰汽车"},
                    {"report_id": "R2", "title": "t", "published": "2024-01-01", "text": "行业景气度回升。"},
                    {"report_id": "R3", "title": "t", "published": "2024-01-01", "text": "恒驰"}]})

    def mentions(steps: object) -> list[dict[str, object]]:
        steps.report_mentions()  # type: ignore[attr-defined]
        return ws.engine.query("SELECT * FROM _resolve_report_mentions ORDER BY mention_id").to_pylist()

    expected = mentions(resolve._WholeRegistry(ws, resolve.shared_registry(ws)))
    assert mentions(resolve._ByBlockingKey(ws, Config().resolve.names_per_group)) == expected
    assert {m["source_id"] for m in expected} == {"R1"} and len(expected) >= 4


@given(st.text(alphabet="宏达科技新材料达宏", min_size=2, max_size=12), st.data())
def test_a_text_held_in_order_has_every_pair_and_signature_bit_of_the_abbreviation(full: str, data: st.DataObject) -> None:
    """The SQL finds abbreviation candidates through a pair and the signature: both must hold for every entry
    that holds the text's characters in order, or a candidate would be lost."""
    picks = data.draw(st.lists(st.sampled_from(range(len(full))), min_size=2, max_size=6, unique=True))
    text = "".join(full[i] for i in sorted(picks))
    assert char_pairs(text) <= char_pairs(full)
    assert signature(text) & signature(full) == signature(text)


def test_parts_carried_with_the_registry_are_the_names_own() -> None:
    """A group reads each entry's parts instead of normalising it again: they round-trip through their
    columns (places, a bracketed region, a branch, a legal form, a name without a core) and the resolver
    built from them decides as one that normalises."""
    names = ["江苏天目湖(集团)有限公司", "腾讯科技(深圳)有限公司", "宁波恒驰汽车部件有限公司苏州分公司", "A", "恒驰部件"]
    carried = pa.table(matcher.parts_columns(names))
    assert list(matcher.read_parts(carried)) == [normalise(name) for name in names]
    with_parts = pa.table({**{c: _table(ROWS).column(c) for c in ("uscc", "name", "kind")},
                           **matcher.parts_columns(r[1] for r in ROWS)})
    for name in ("恒驰部件", "苏州恒驰汽车部件有限公司", "宁波恒驰", "嘉兴承达新材料", "恒驰汽车"):
        assert Resolver.from_arrow(with_parts).resolve(name) == Resolver(ROWS).resolve(name)


def test_a_group_builds_its_resolver_from_the_carried_parts() -> None:
    """Non-vacuous: the carried parts are what the group's index holds (a changed core changes the decision)."""
    rows = pa.table({"uscc": [A], "name": ["嘉兴丞达新材料科技有限公司"], "kind": ["registered"],
                     **matcher.parts_columns(["嘉兴丞达新材料科技有限公司"])})
    assert Resolver.from_arrow(rows).resolve("丞达新材料").uscc == A
    altered = rows.set_column(rows.schema.get_field_index("core"), "core", pa.array(["无关名字"]))
    assert Resolver.from_arrow(altered).resolve("丞达新材料").uscc is None


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_bad_group_size_is_one_error_naming_the_setting(value: str) -> None:
    from chainlight.config import load_config
    from chainlight.errors import InputError

    with pytest.raises(InputError, match="resolve.names_per_group"):
        load_config(environ={"CHAINLIGHT_RESOLVE__NAMES_PER_GROUP": value})
