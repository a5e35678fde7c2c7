"""Resolve's block functions: what ``map_batches`` runs per batch of names, per batch of reports and per
ambiguous mention, on whichever engine. Each must give what the resolver gives on its own, however the
rows are cut, and build its index once per registry."""

from __future__ import annotations

import pyarrow as pa
import pytest

from chainlight.engine.base import ArrowRef
from chainlight.resolve import blocks
from chainlight.resolve.matcher import Context, Resolver
from chainlight.resolve.reports import find_mentions, gazetteer

A, B, C, D = "914403001922038216", "91440300708461136T", "91110108551385082Q", "91350100M000100Y43"
REGISTRY_ROWS = [(A, "嘉兴丞达新材料科技有限公司", "registered"), (B, "宁波恒驰汽车部件有限公司", "registered"),
                 (C, "苏州恒驰汽车部件有限公司", "registered"), (D, "杭州远航汽车集团股份有限公司", "registered"),
                 (D, "远航汽车", "short"), (D, "杭州旧名汽车有限公司", "former")]
REGISTRY_TABLE = pa.table({k: [r[i] for r in REGISTRY_ROWS] for i, k in enumerate(("uscc", "name", "kind"))})
REGISTRY = ArrowRef("k", REGISTRY_TABLE)
NAMES = ["丞达新材", "恒驰汽车部件有限公司", "远航汽车", "嘉兴承达新材料科技有限公司", "个人", "杭州旧名汽车有限公司"]


@pytest.fixture(autouse=True)
def fresh_indexes() -> None:
    blocks.forget()


def _names(names: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"name": pa.array(names, pa.string())})


def test_resolve_batch_gives_the_resolvers_decisions_however_the_names_are_cut() -> None:
    resolver = Resolver(REGISTRY_ROWS)
    expected = [resolver.resolve(n) for n in NAMES]
    whole = blocks.resolve_batch(_names(NAMES), registry=REGISTRY).to_pylist()
    cut = [row for part in (NAMES[:2], NAMES[2:3], NAMES[3:]) for row in
           blocks.resolve_batch(_names(part), registry=REGISTRY).to_pylist()]
    assert whole == cut
    assert [(r["name"], r["uscc"], r["score"], r["method"]) for r in whole] == [
        (n, m.uscc, m.score, m.method) for n, m in zip(NAMES, expected, strict=True)]
    ambiguous = next(r for r in whole if r["name"] == "恒驰汽车部件有限公司")
    assert ambiguous["method"] == "ambiguous" and ambiguous["candidates"] == ",".join(sorted([B, C]))


def test_resolve_batch_of_no_names_is_empty_with_its_schema() -> None:
    out = blocks.resolve_batch(_names([]), registry=REGISTRY)
    assert out.num_rows == 0 and out.schema == blocks.DECISION_SCHEMA


def test_the_index_is_built_once_per_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    original = blocks.Resolver.from_arrow

    def counting(table: pa.Table) -> Resolver:
        built.append(table.num_rows)
        return original(table)

    monkeypatch.setattr(blocks.Resolver, "from_arrow", counting)
    for part in (NAMES[:3], NAMES[3:]):
        blocks.resolve_batch(_names(part), registry=ArrowRef("first", REGISTRY_TABLE))
    assert built == [len(REGISTRY_ROWS)]
    smaller = ArrowRef("second", REGISTRY_TABLE.slice(0, 3))
    out = blocks.resolve_batch(_names(["远航汽车"]), registry=smaller)  # a new registry: rebuilt
    assert built == [len(REGISTRY_ROWS), 3] and out.column("uscc")[0].as_py() is None


def test_report_batch_finds_what_find_mentions_finds() -> None:
    texts = ["公告称，远航汽车与嘉兴丞达新材料科技有限公司签订合同。", None, "杭州某某新能源有限公司扩产。"]
    batch = pa.RecordBatch.from_pydict({"report_id": ["R1", "R2", "R3"], "text": pa.array(texts, pa.string())})
    rows = blocks.report_mentions_batch(batch, registry=REGISTRY).to_pylist()
    automaton = gazetteer(name for _, name, _ in REGISTRY_ROWS)
    expected = [{"mention_id": f"report:{rid}:{m.start}", "source": "report", "source_id": rid,
                 "name_as_written": m.name, "given_uscc": None}
                for rid, text in zip(["R1", "R2", "R3"], texts, strict=True) for m in find_mentions(text or "", automaton)]
    assert rows == expected and len(rows) >= 3


def _group(partners: list[str | None], name: str = "恒驰汽车部件有限公司") -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"name": [name] * len(partners), "seller_uscc": ["S1"] * len(partners),
                                       "partner": pa.array(partners, pa.string())})


def test_partner_group_links_only_when_the_sellers_partners_settle_it() -> None:
    settled = blocks.partner_group(_group([B]), registry=REGISTRY).to_pylist()
    match = Resolver(REGISTRY_ROWS).resolve("恒驰汽车部件有限公司", Context(partners=frozenset({B})))
    assert settled == [{"name": "恒驰汽车部件有限公司", "seller_uscc": "S1", "uscc": B, "score": match.score}]
    assert blocks.partner_group(_group([A]), registry=REGISTRY).num_rows == 0  # a partner it is not
    assert blocks.partner_group(_group([]), registry=REGISTRY).schema == blocks.PARTNER_SCHEMA
