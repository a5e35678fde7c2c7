"""Entity resolution: each normalisation rule, the matching policy, the stage contract, and real short names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chainlight import resolve
from chainlight.config import Config
from chainlight.resolve.matcher import Resolver
from chainlight.resolve.normalise import normalise
from chainlight.resolve.reports import find_mentions, gazetteer
from chainlight.workspace import Workspace

A, B, C, D = "914403001922038216", "91440300708461136T", "91110108551385082Q", "91350100M000100Y43"
REGISTRY = [(A, "嘉兴丞达新材料科技有限公司", "registered"), (B, "宁波恒驰汽车部件有限公司", "registered"),
            (C, "苏州恒驰汽车部件有限公司", "registered"), (D, "杭州远航汽车集团股份有限公司", "registered"),
            (D, "远航汽车", "short"), (D, "杭州旧名汽车有限公司", "former")]


@pytest.mark.parametrize("name,core,regions,form,branch", [
    ("嘉兴丞达新材料科技有限公司", "丞达新材料科技", ("嘉兴",), "有限公司", False),
    ("嘉兴丞达新材料科技有限责任公司", "丞达新材料科技", ("嘉兴",), "有限公司", False),
    ("丞达新材料科技股份有限公司", "丞达新材料科技", (), "股份有限公司", False),
    ("丞达新材料科技（嘉兴）有限公司", "丞达新材料科技", ("嘉兴",), "有限公司", False),
    ("丞达新材料科技(嘉兴)有限公司", "丞达新材料科技", ("嘉兴",), "有限公司", False),
    ("浙江省嘉兴市丞达新材料科技有限公司", "丞达新材料科技", ("浙江", "嘉兴"), "有限公司", False),
    ("嘉兴丞达新材料科技有限公司苏州分公司", "丞达新材料科技", ("嘉兴",), "有限公司", True),
    ("嘉興丞達新材料科技有限公司", "丞达新材料科技", ("嘉兴",), "有限公司", False),
    ("嘉兴 丞达·新材料科技 有限公司", "丞达新材料科技", ("嘉兴",), "有限公司", False),
    ("嘉兴丞达新材料科技有线公司", "丞达新材料科技", ("嘉兴",), "有限公司", False),
    ("杭州远航汽车集团股份有限公司", "远航汽车", ("杭州",), "集团股份有限公司", False),
    ("*ST远航", "远航", (), "", False),
    ("万科A", "万科", (), "", False),
    ("安宁汽车电子有限公司", "安宁汽车电子", (), "有限公司", False),
])
def test_normalisation_rules(name: str, core: str, regions: tuple[str, ...], form: str, branch: bool) -> None:
    parts = normalise(name)
    assert (parts.core, parts.regions, parts.branch) == (core, regions, branch)
    assert parts.legal_form.endswith(form[-4:]) if form else parts.legal_form == ""


@pytest.mark.parametrize("mention,expected,method", [
    ("嘉兴丞达新材料科技有限公司", A, "exact"),
    ("嘉兴丞达新材料科技有限责任公司", A, "exact"),
    ("丞达新材", A, "structure"),
    ("嘉兴承达新材料科技有限公司", A, "model"),  # homophone
    ("嘉兴达丞新材料科技有限公司", A, "model"),  # transposed brand
    ("嘉兴丞达新材料科技有限公司上海分公司", A, "exact"),
    ("远航汽车", D, "alias"),  # the registered short name
    ("杭州旧名汽车有限公司", D, "alias"),
    ("宁波恒驰汽车部件有限公司", B, "exact"),
])
def test_matches(mention: str, expected: str, method: str) -> None:
    match = Resolver(REGISTRY).resolve(mention)
    assert (match.uscc, match.method) == (expected, method)


def test_equal_candidates_stay_unresolved() -> None:
    match = Resolver(REGISTRY).resolve("恒驰汽车部件有限公司")  # Ningbo or Suzhou? no way to tell
    assert match.uscc is None and match.method == "ambiguous"


def test_region_breaks_the_tie() -> None:
    assert Resolver(REGISTRY).resolve("苏州恒驰汽车部件有限公司").uscc == C


@pytest.mark.parametrize("junk", ["", "   ", "（）", "有限公司", "个人", None])
def test_junk_names_do_not_link(junk: str | None) -> None:
    assert Resolver(REGISTRY).resolve(junk).uscc is None


def test_duplicate_registry_names_do_not_crash_and_stay_ambiguous() -> None:
    registry = REGISTRY + [(C, "嘉兴丞达新材料科技有限公司", "registered")]
    assert Resolver(registry).resolve("嘉兴丞达新材料科技有限公司").uscc is None


def test_resolution_is_deterministic() -> None:
    names = ["丞达新材", "恒驰汽车部件", "远航汽车", "嘉兴承达新材料科技有限公司"]
    assert [Resolver(REGISTRY).resolve(n) for n in names] == [Resolver(list(reversed(REGISTRY))).resolve(n) for n in names]


def test_report_mentions_found_at_their_offsets() -> None:
    text = "据悉，丞达新材是远航汽车的核心供应商。另有某某不知名科技有限公司参与。"
    automaton = gazetteer(name for _, name, _ in REGISTRY)
    found = [(m.start, m.name) for m in find_mentions(text, automaton)]
    assert (3, "丞达新材") in found and (8, "远航汽车") in found
    assert any(name.endswith("有限公司") for _, name in found)


def _load(ws: Workspace, invoices: list[tuple[str, str, str | None]]) -> None:
    from chainlight import ingest
    folder = ws.root.parent / "in"
    folder.mkdir(exist_ok=True)
    rows = ["uscc,name,scope,industry_code,province,city,founded,registered_capital,high_tech"]
    rows += [f"{u},{n},,,,,2010-01-01,1,false" for u, n, k in REGISTRY if k == "registered"]
    (folder / "enterprises.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "aliases.csv").write_text("uscc,alias,kind\n" + f"{D},远航汽车,short\n", encoding="utf-8")
    lines = ["invoice_id,seller_uscc,buyer_name,buyer_uscc,item_name,tax_code,amount,issue_date,status"]
    lines += [f"{i},{A},{name},{code or ''},尼龙,1070213,100,2024-01-0{1 + k % 9},normal"
              for k, (i, name, code) in enumerate(invoices)]
    (folder / f"invoices_{len(invoices)}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest.run(ws, Config(), [folder])
    assert not report.errors


def links(ws: Workspace) -> list[dict]:
    return ws.engine.query("SELECT mention_id, uscc, method FROM entity_links WHERE source = 'invoice' "
                           "ORDER BY mention_id").to_pylist()


def test_stage_uscc_wins_and_writes_every_mention(ws: Workspace) -> None:
    _load(ws, [("I1", "完全不同的名字", B), ("I2", "丞达新材", None), ("I3", "某某个体户", None)])
    result = resolve.run(ws, Config())
    assert links(ws) == [{"mention_id": "invoice:I1", "uscc": B, "method": "uscc"},
                         {"mention_id": "invoice:I2", "uscc": A, "method": "structure"},
                         {"mention_id": "invoice:I3", "uscc": None, "method": "unresolved"}]
    assert result.tables["entity_links"] == 3
    assert ws.engine.scalar("SELECT count(DISTINCT run_id) FROM entity_links") == 1


def test_incremental_equals_batch(tmp_path: Path) -> None:
    first = [("I1", "丞达新材", None), ("I2", "宁波恒驰汽车部件有限公司", None)]
    second = [("J1", "远航汽车", None), ("J2", "嘉兴承达新材料科技有限公司", None), ("J3", "丞达新材", None)]
    with Workspace(tmp_path / "inc" / "ws") as inc:
        _load(inc, first)
        resolve.run(inc, Config())
        _load(inc, second)
        result = resolve.run(inc, Config())
        assert result.stats["names_reused"] == 2 and result.stats["names_resolved_now"] == 2
        incremental = links(inc)
    with Workspace(tmp_path / "all" / "ws") as full:
        _load(full, first)
        _load(full, second)
        resolve.run(full, Config())
        assert links(full) == incremental


def test_registry_change_resolves_again(ws: Workspace) -> None:
    _load(ws, [("I1", "丞达新材", None)])
    resolve.run(ws, Config())
    ws.engine.execute("DELETE FROM ingest_files WHERE table_name = 'aliases'")
    from chainlight.ingest import storage
    storage.refresh_views(ws.engine)
    assert resolve.run(ws, Config()).stats["names_reused"] == 0


def shared_company_file() -> Path:
    root = Path(os.environ.get("CHAINLIGHT_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    path = root / "chain_kg" / "company.jsonl"
    if not path.exists():
        pytest.skip(f"real data {path} is absent (set CHAINLIGHT_SHARED_DATA)")
    return path


def test_real_short_names_against_full_names_alone() -> None:
    rows = [json.loads(line) for line in shared_company_file().read_text(encoding="utf-8").splitlines()]
    registry = [(r["code"], r["fullname"], "registered") for r in rows if r.get("fullname")]
    sample = rows[::5]
    resolver = Resolver(registry)
    matches = [resolver.resolve(r["name"]) for r in sample]
    made = [m for m in matches if m.uscc]
    correct = sum(m.uscc == r["code"] for m, r in zip(matches, sample, strict=True) if m.uscc)
    assert correct / len(made) >= 0.97
    assert correct / len(sample) >= 0.80


def test_eval_scores_against_truth(tiny_workspace: Workspace, tiny_economy: Path) -> None:
    from chainlight.eval.resolve import evaluate
    figures = evaluate(tiny_workspace, tiny_economy / "truth")
    assert figures is not None
    assert figures["precision"] >= 0.98 and figures["recall"] >= 0.95


def test_parallel_resolution_equals_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    import chainlight.resolve as stage
    names = ["丞达新材", "恒驰汽车部件有限公司", "远航汽车", "嘉兴承达新材料科技有限公司", "个人"] * 40
    resolver = Resolver(REGISTRY)
    serial = [resolver.resolve(n) for n in names]
    monkeypatch.setattr(stage, "PARALLEL_FROM", 10)
    assert stage.resolve_all(resolver, names) == serial


def _link_rows(ws: Workspace) -> list[dict]:
    return ws.engine.query("SELECT mention_id, uscc, method, candidates FROM entity_links WHERE source = 'invoice' "
                           "ORDER BY mention_id").to_pylist()


def test_ambiguous_buyer_keeps_candidates_and_no_link(ws: Workspace) -> None:
    _load(ws, [("I1", "恒驰汽车部件有限公司", None)])
    resolve.run(ws, Config())
    assert _link_rows(ws) == [{"mention_id": "invoice:I1", "uscc": None, "method": "ambiguous",
                               "candidates": ",".join(sorted([B, C]))}]


def test_sellers_known_partner_settles_an_ambiguous_buyer(ws: Workspace) -> None:
    _load(ws, [("I1", "宁波恒驰汽车部件有限公司", B), ("I2", "恒驰汽车部件有限公司", None)])
    resolve.run(ws, Config())
    assert _link_rows(ws)[1] == {"mention_id": "invoice:I2", "uscc": B, "method": "partner", "candidates": None}
