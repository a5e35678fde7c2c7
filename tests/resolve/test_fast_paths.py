"""The matcher's fast paths give exactly what the slow ones gave: the skipped script conversion, the
numpy abbreviation index, the per-call memos."""

from __future__ import annotations

import random

import pytest

from chainlight.resolve import normalise as N
from chainlight.resolve import resolve_all
from chainlight.resolve.matcher import Context, Match, Resolver, _is_subsequence, place_core


def test_skipping_the_conversion_never_changes_a_text() -> None:
    """Every key of the traditional → simplified dictionaries (alone and inside a name) converts as
    the full conversion does; a simplified name is returned as it is."""
    chars, phrases = N._t2s_triggers()
    assert chars and "測" in chars
    keys = sorted({k for group in N._T2S._dict_chain_data for (_, _, table) in group for k in table})
    for key in keys:
        for text in (key, f"杭州{key}科技", f"{key}有限公司"):
            assert N._simplified(text) == N._T2S.convert(text), text
    assert N._simplified("杭州远航汽车有限公司") == "杭州远航汽车有限公司"
    assert N.clean("嘉興丞達新材料") == "嘉兴丞达新材料"


def _registry(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    brands = "丞达恒驰远航宝山钢铁中国能源建设智控环能华为新材料科技汽车部件电子"
    cities = ["杭州", "宁波", "苏州", "上海", "深圳", ""]
    rows = []
    for i in range(n):
        core = "".join(rng.choice(brands) for _ in range(rng.randint(2, 7)))
        rows.append((f"U{i:05d}", f"{rng.choice(cities)}{core}有限公司", "registered"))
    return rows


def test_abbreviation_candidates_equal_the_brute_force_scan() -> None:
    """The signature-filtered posting finds exactly the entries that hold the text's characters in order."""
    resolver = Resolver(_registry(3000, 1))
    texts = {place_core(e.parts)[:k] for e in list(resolver.entries)[:300] for k in (2, 3, 4)}
    texts |= {"宝钢", "中能建", "杭能", "驰宝", "无此字"}
    for text in sorted(texts):
        expected = {i for i, e in enumerate(resolver.entries) if _is_subsequence(text, place_core(e.parts))}
        assert resolver._abbreviation_candidates(text) == expected, text
    assert resolver._abbreviation_candidates("") == frozenset()


def test_memos_do_not_change_decisions() -> None:
    """Resolving a name twice, and after other names, gives the same match as a fresh resolver."""
    registry = _registry(2000, 2)
    names = [name[:k] for _, name, _ in registry[:200] for k in (4, 6)] + [name for _, name, _ in registry[:50]]
    warm = Resolver(registry)
    first = [warm.resolve(n) for n in names]
    again = [warm.resolve(n) for n in reversed(names)][::-1]
    fresh = [Resolver(registry).resolve(n) for n in names[:40]]
    assert first == again
    assert first[:40] == fresh


def test_resolve_all_resolves_each_cleaned_form_once_and_keeps_input_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spellings that differ only in width, script or spacing are decided once and get the same match;
    the output follows the input, duplicates and empty names included."""
    registry = _registry(500, 3)
    resolver = Resolver(registry)
    base = [name for _, name, _ in registry[:20]]
    variants = [f" {n[:2]} {n[2:]}" for n in base] + [n.replace("有限公司", "有限公司").replace("(", "（") for n in base]
    names = base + variants + base[:5] + ["", "嘉興丞達新材料科技有限公司", "嘉兴丞达新材料科技有限公司"]
    expected = [Resolver(registry).resolve(n) for n in names]
    calls: list[str] = []
    original = Resolver.resolve

    def counting(self: Resolver, name: str | None, context: Context | None = None) -> Match:
        calls.append(name or "")
        return original(self, name, context)

    monkeypatch.setattr(Resolver, "resolve", counting)
    assert resolve_all(resolver, names) == expected
    assert len(calls) == len({N.clean(n) for n in names}) < len(names)


def test_evidence_is_not_deduplicated_away() -> None:
    """The same name with different evidence (the document's city) may decide differently: dedup is
    by name only where no evidence is given; a call with a Context is decided on its own."""
    registry = [("U1", "杭州恒驰汽车部件有限公司", "registered"), ("U2", "苏州恒驰汽车部件有限公司", "registered")]
    resolver = Resolver(registry)
    assert resolve_all(resolver, ["恒驰汽车部件有限公司"] * 2)[0].uscc is None
    assert resolver.resolve("恒驰汽车部件有限公司", Context(city="杭州")).uscc == "U1"
    assert resolver.resolve("恒驰汽车部件有限公司", Context(city="苏州")).uscc == "U2"


def test_lazy_homophone_test_keeps_what_the_decision_reads() -> None:
    """Testing pinyin only where it can matter leaves the top, the runner-up and every firm within
    MODEL_MARGIN of the top exactly as testing every candidate does; homophone brands included."""
    from chainlight.resolve.constants import MODEL_MARGIN

    rng = random.Random(4)
    sounds = ["丞承城成诚", "达大答", "恒衡亨", "驰池迟", "新欣心", "材才财"]
    rows = []
    for i in range(1500):
        brand = "".join(rng.choice(group) for group in rng.sample(sounds, 2))
        rows.append((f"U{i:05d}", f"{rng.choice(['杭州', '宁波', ''])}{brand}新材料科技有限公司", "registered"))
    resolver = Resolver(rows)
    for _, name, _ in rows[:150]:
        parts = N.normalise(name.replace("丞", "承").replace("恒", "衡"))
        lazy, full = resolver._ranked(parts), resolver._ranked(parts, True)
        assert {u for u, _ in lazy} == {u for u, _ in full}
        if full:
            top = full[0][1]
            near_full = [(u, w) for u, w in full if w >= top - MODEL_MARGIN]
            assert lazy[: len(near_full)] == tuple(near_full)
            assert lazy[:2] == full[:2]


def test_the_flat_index_holds_what_the_rows_say() -> None:
    """Each lookup of the flat index (hashed keys over one entry array) lists exactly the entries a dict
    of lists built from the same rows would, and counts what a Counter would."""
    resolver = Resolver(_registry(1500, 4))
    entries = list(resolver.entries)
    cores = [e.parts.core for e in entries]
    for core in sorted(set(cores))[:200] + ["无此", "丞"]:
        assert resolver.by_core.get(core).tolist() == [i for i, c in enumerate(cores) if c == core]
        for head in (core[:2], core[:3]):
            expected = [i for i, c in enumerate(cores) if c[:2] == head or (len(c) >= 3 and c[:3] == head)]
            assert resolver.by_head.get(head).tolist() == expected
        assert resolver.prefix_count.get(core[:4], 0) == sum(c[:k] == core[:4] for c in cores for k in range(2, 5))
    assert resolver.by_core.get("无此字号").tolist() == [] and resolver.prefix_count.get("无此字号", 1) == 1


def test_building_from_arrow_equals_building_from_rows() -> None:
    """A registry table in any order, with repeated rows, gives the resolver that the rows give."""
    import pyarrow as pa

    registry = _registry(800, 5)
    shuffled = registry[::-1] + registry[:100]
    random.Random(5).shuffle(shuffled)
    table = pa.table({c: [r[i] for r in shuffled] for i, c in enumerate(("uscc", "name", "kind"))})
    from_rows, from_arrow = Resolver(registry), Resolver.from_arrow(table)
    assert [(e.uscc, e.parts, e.from_alias) for e in from_arrow.entries] == \
        [(e.uscc, e.parts, e.from_alias) for e in from_rows.entries]
    names = [name[:k] for _, name, _ in registry[:150] for k in (3, 5, 8)]
    assert [from_arrow.resolve(n) for n in names] == [from_rows.resolve(n) for n in names]
