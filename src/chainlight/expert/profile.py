"""Firm profiles: the operating analysis as facts, and a short text built from them by templates.

Every sentence is a template filled only with fact labels, and it stores the keys of the facts it
uses, so each figure in the text traces to a fact of the same row (a test checks every sentence).
The work is vectorised over an Arrow batch (no per-firm Python loop): ``profile_batch`` maps a batch
of indicator rows to a batch of profiles, the shape Spark's ``mapInArrow`` runs on executors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FACT = pa.struct([("key", pa.string()), ("value", pa.float64()), ("label", pa.string())])
SENTENCE = pa.struct([("text", pa.string()), ("fact_keys", pa.list_(pa.string()))])
PROFILE_SCHEMA = pa.schema([
    ("uscc", pa.string()), ("segment_id", pa.string()), ("chain_id", pa.string()), ("tier", pa.string()),
    ("is_anchor", pa.bool_()), ("revenue_ttm", pa.float64()), ("revenue_prev", pa.float64()),
    ("revenue_growth_yoy", pa.float64()), ("lfl_growth", pa.float64()), ("excess_growth", pa.float64()),
    ("volatility", pa.float64()), ("customers", pa.int64()), ("customers_new", pa.int64()),
    ("customers_lost", pa.int64()), ("churn_rate", pa.float64()), ("customer_hhi", pa.float64()),
    ("top_customer_share", pa.float64()), ("void_rate", pa.float64()), ("hops_to_anchor", pa.int64()),
    ("anchor_flow_share", pa.float64()), ("stable_large_ties", pa.int64()), ("relationship_stability", pa.float64()),
    ("segment_trend", pa.string()), ("trend_alignment", pa.string()), ("facts", pa.list_(FACT)),
    ("sentences", pa.list_(SENTENCE)), ("text", pa.string()), ("language", pa.string())])
# a rate that shows as 0.0% reads as growth, not decline (labels are rounded to 0.1%)
ZERO = 0.0005
# a firm's own growth within ±3% counts as flat when it is compared with its segment's trend
FLAT_BAND = 0.03
DIRECTION_VALUE = {"up": 1.0, "flat": 0.0, "down": -1.0}
WORDS = {
    "zh": {"up": "上行", "flat": "平稳", "down": "下行", "ahead": "好于行业趋势", "aligned": "与行业趋势一致",
           "behind": "弱于行业趋势", "anchor": "是", "not_anchor": "否"},
    "en": {"up": "up", "flat": "flat", "down": "down", "ahead": "ahead of its segment's trend",
           "aligned": "in line with its segment's trend", "behind": "behind its segment's trend", "anchor": "yes",
           "not_anchor": "no"},
}


def _num(values: np.ndarray, digits: int, scale: float = 1.0, absolute: bool = False) -> pa.Array:
    """Labels as they appear in the text: rounded, no negative zero, null where the value is missing."""
    x = values * scale
    x = np.abs(x) if absolute else x
    rounded = np.round(x, digits) + 0.0
    return pc.cast(pa.array(rounded, mask=np.isnan(values)), pa.string())


@dataclass
class Facts:
    """The facts of a batch: key → (values, labels), all arrays of the batch's length."""

    values: dict[str, np.ndarray]
    labels: dict[str, pa.Array]

    def add(self, key: str, values: np.ndarray, labels: pa.Array) -> None:
        self.values[key], self.labels[key] = values, labels

    def table(self, n: int) -> pa.ListArray:
        """Per firm, the list of (key, value, label) for every fact it has (a label that is not null)."""
        keys = list(self.values)
        k = len(keys)
        labels = pa.concat_arrays([self.labels[key] for key in keys])  # key-major
        values = np.concatenate([self.values[key] for key in keys])
        order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).reshape(-1)  # firm-major
        present = np.asarray(labels.is_valid().to_numpy(zero_copy_only=False))[order]
        order = order[present]
        counts = present.reshape(n, k).sum(axis=1)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        key_names = np.repeat(np.array(keys, dtype=object), n)[order]
        picked = values[order]
        struct = pa.StructArray.from_arrays(
            [pa.array(key_names, pa.string()), pa.array(picked, mask=np.isnan(picked)), labels.take(pa.array(order))],
            fields=list(FACT))
        return pa.ListArray.from_arrays(pa.array(offsets), struct)


Part = str | tuple[str]  # a literal, or (fact key,) for the fact's label


@dataclass(frozen=True)
class Variant:
    when: Callable[[dict[str, np.ndarray]], np.ndarray]
    parts: Sequence[Part]

    def keys(self) -> list[str]:
        return [p[0] for p in self.parts if isinstance(p, tuple)]


def _always(v: dict[str, np.ndarray]) -> np.ndarray:
    return np.ones(len(next(iter(v.values()))), bool)


def _templates(lang: str) -> list[list[Variant]]:
    """Each sentence: variants tried in order; the first whose condition holds (and whose facts exist) is used."""
    def has(key: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        return lambda v: ~np.isnan(v[key])

    def pos(key: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        return lambda v: v[key] >= -ZERO

    def neg(key: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        return lambda v: v[key] < -ZERO

    def zero(key: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        return lambda v: v[key] == 0

    R, G, L, E = ("revenue_ttm",), ("revenue_growth_yoy",), ("lfl_growth",), ("excess_growth",)
    if lang == "zh":
        return [
            [Variant(pos("revenue_growth_yoy"), ["近12个月开票收入", R, "万元，同比增长", G, "%。"]),
             Variant(neg("revenue_growth_yoy"), ["近12个月开票收入", R, "万元，同比下降", G, "%。"]),
             Variant(_always, ["近12个月开票收入", R, "万元。"])],
            [Variant(lambda v: (v["lfl_growth"] >= -ZERO) & (v["excess_growth"] >= -ZERO),
                     ["对持续合作客户的销售（季节调整后）年化增长", L, "%，高于所在市场", E, "个百分点。"]),
             Variant(lambda v: (v["lfl_growth"] >= -ZERO) & (v["excess_growth"] < -ZERO),
                     ["对持续合作客户的销售（季节调整后）年化增长", L, "%，低于所在市场", E, "个百分点。"]),
             Variant(lambda v: (v["lfl_growth"] < -ZERO) & (v["excess_growth"] >= -ZERO),
                     ["对持续合作客户的销售（季节调整后）年化下降", L, "%，高于所在市场", E, "个百分点。"]),
             Variant(lambda v: (v["lfl_growth"] < -ZERO) & (v["excess_growth"] < -ZERO),
                     ["对持续合作客户的销售（季节调整后）年化下降", L, "%，低于所在市场", E, "个百分点。"])],
            [Variant(has("volatility"), ["季节调整后的季度收入波动系数为", ("volatility",), "。"])],
            [Variant(lambda v: v["customers"] > 0,
                     ["共有", ("customers",), "家供货客户，近12个月新增", ("customers_new",), "家、流失",
                      ("customers_lost",), "家，最大客户占销售额", ("top_customer_share",), "%。"]),
             Variant(zero("customers"), ["发票中未识别出稳定的供货客户（", ("customers",), "家）。"])],
            [Variant(lambda v: v["is_anchor"] == 1, ["本企业是链上核心企业（", ("is_anchor",), "）。"]),
             Variant(has("hops_to_anchor"),
                     ["距核心企业", ("hops_to_anchor",), "跳，", ("anchor_flow_share",),
                      "%的销售最终流向核心企业，与大企业的稳定合作关系", ("stable_large_ties",), "个。"]),
             Variant(_always, ["未发现通往核心企业的供货路径，与大企业的稳定合作关系", ("stable_large_ties",), "个。"])],
            [Variant(lambda v: ~np.isnan(v["segment_trend"]) & ~np.isnan(v["trend_alignment"]),
                     ["所在细分行业", ("segment",), "的研报趋势判断为", ("segment_trend",), "，企业表现",
                      ("trend_alignment",), "。"])],
        ]
    return [
        [Variant(pos("revenue_growth_yoy"), ["Invoiced revenue over the last 12 months was ¥", R, "M, up ", G,
                                             "% year on year."]),
         Variant(neg("revenue_growth_yoy"), ["Invoiced revenue over the last 12 months was ¥", R, "M, down ", G,
                                             "% year on year."]),
         Variant(_always, ["Invoiced revenue over the last 12 months was ¥", R, "M."])],
        [Variant(lambda v: (v["lfl_growth"] >= -ZERO) & (v["excess_growth"] >= -ZERO),
                 ["Sales to continuing customers (seasonally adjusted) grew ", L, "% a year, ", E,
                  " points above its markets."]),
         Variant(lambda v: (v["lfl_growth"] >= -ZERO) & (v["excess_growth"] < -ZERO),
                 ["Sales to continuing customers (seasonally adjusted) grew ", L, "% a year, ", E,
                  " points below its markets."]),
         Variant(lambda v: (v["lfl_growth"] < -ZERO) & (v["excess_growth"] >= -ZERO),
                 ["Sales to continuing customers (seasonally adjusted) fell ", L, "% a year, ", E,
                  " points above its markets."]),
         Variant(lambda v: (v["lfl_growth"] < -ZERO) & (v["excess_growth"] < -ZERO),
                 ["Sales to continuing customers (seasonally adjusted) fell ", L, "% a year, ", E,
                  " points below its markets."])],
        [Variant(has("volatility"), ["Seasonally adjusted quarterly revenue has a coefficient of variation of ",
                                     ("volatility",), "."])],
        [Variant(lambda v: v["customers"] > 0,
                 ["It supplies ", ("customers",), " customers: ", ("customers_new",), " won and ", ("customers_lost",),
                  " lost in the last 12 months; the largest takes ", ("top_customer_share",), "% of sales."]),
         Variant(zero("customers"), ["No steady supply customer shows on its invoices (", ("customers",), ")."])],
        [Variant(lambda v: v["is_anchor"] == 1, ["It is an anchor enterprise of its chain (", ("is_anchor",), ")."]),
         Variant(lambda v: v["hops_to_anchor"] == 1,
                 ["It sells straight to an anchor (", ("hops_to_anchor",), " hop); ", ("anchor_flow_share",),
                  "% of its sales end at anchors; it has ", ("stable_large_ties",), " stable ties to large firms."]),
         Variant(has("hops_to_anchor"),
                 ["It is ", ("hops_to_anchor",), " hops from an anchor; ", ("anchor_flow_share",),
                  "% of its sales end at anchors; it has ", ("stable_large_ties",), " stable ties to large firms."]),
         Variant(_always, ["No supply path reaches an anchor; it has ", ("stable_large_ties",),
                           " stable ties to large firms."])],
        [Variant(lambda v: ~np.isnan(v["segment_trend"]) & ~np.isnan(v["trend_alignment"]),
                 ["Research reports judge its segment ", ("segment",), " to be trending ", ("segment_trend",),
                  "; the firm is ", ("trend_alignment",), "."])],
    ]


def _f(batch: pa.RecordBatch, name: str) -> np.ndarray:
    return np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=float)


def build_facts(batch: pa.RecordBatch, lang: str) -> Facts:
    """The facts a profile states, each with the label the text shows."""
    words = WORDS[lang]
    facts = Facts({}, {})
    revenue = _f(batch, "revenue_ttm")
    facts.add("revenue_ttm", revenue, _num(revenue, 1 if lang == "zh" else 2, 1e-4 if lang == "zh" else 1e-6))
    for key, column, digits, scale, absolute in (
            ("revenue_growth_yoy", "revenue_growth_yoy", 1, 100.0, True),
            ("excess_growth", "excess_growth", 1, 100.0, True),
            ("volatility", "volatility", 2, 1.0, False),
            ("top_customer_share", "top_customer_share", 1, 100.0, False),
            ("anchor_flow_share", "anchor_flow_share", 1, 100.0, False)):
        values = _f(batch, column)
        facts.add(key, values, _num(values, digits, scale, absolute))
    lfl = np.expm1(_f(batch, "lfl_slope"))
    facts.add("lfl_growth", lfl, _num(lfl, 1, 100.0, True))
    for key in ("customers", "customers_new", "customers_lost", "hops_to_anchor", "stable_large_ties"):
        values = _f(batch, key)
        facts.add(key, values, _num(values, 0))
    anchor = np.asarray(batch.column("is_anchor").fill_null(False).to_numpy(zero_copy_only=False), dtype=float)
    facts.add("is_anchor", anchor, pa.array(np.where(anchor == 1, words["anchor"], words["not_anchor"]), pa.string()))
    trend = batch.column("segment_trend").to_pylist()
    trend_value = np.array([DIRECTION_VALUE.get(t, np.nan) if t else np.nan for t in trend])
    facts.add("segment_trend", trend_value, pa.array([words[t] if t in DIRECTION_VALUE else None for t in trend],
                                                     pa.string()))
    names = batch.column("segment_name")
    facts.add("segment", np.full(batch.num_rows, np.nan), names.cast(pa.string()))
    own = np.where(np.isnan(lfl), _f(batch, "revenue_growth_yoy"), lfl)
    own_dir = np.where(own > FLAT_BAND, 1.0, np.where(own < -FLAT_BAND, -1.0, 0.0))
    alignment = np.where(np.isnan(own) | np.isnan(trend_value), np.nan, np.sign(own_dir - trend_value))
    facts.add("trend_alignment", alignment, pa.array(
        [None if np.isnan(a) else words["ahead" if a > 0 else "behind" if a < 0 else "aligned"] for a in alignment],
        pa.string()))
    return facts


def sentences(facts: Facts, lang: str, n: int) -> tuple[pa.ListArray, pa.Array]:
    """(per firm the list of (text, fact keys), the joined text)."""
    slot_text: list[pa.Array] = []
    slot_keys: list[pa.Array] = []
    for variants in _templates(lang):
        text: pa.Array = pa.nulls(n, pa.string())
        chosen = np.full(n, -1)
        for idx, variant in enumerate(variants):
            with np.errstate(invalid="ignore"):
                ok = np.asarray(variant.when(facts.values), bool) & (chosen < 0)
            parts = [facts.labels[p[0]] if isinstance(p, tuple) else pa.scalar(p) for p in variant.parts]
            filled = pc.binary_join_element_wise(*parts, "", null_handling="emit_null")
            ok &= np.asarray(filled.is_valid().to_numpy(zero_copy_only=False))
            text = pc.if_else(pa.array(ok), filled, text)
            chosen[ok] = idx
        key_lists = pa.array([v.keys() for v in variants] + [None], pa.list_(pa.string()))
        slot_text.append(text)
        slot_keys.append(key_lists.take(pa.array(np.where(chosen < 0, len(variants), chosen))))
    k = len(slot_text)
    texts = pa.concat_arrays(slot_text)
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).reshape(-1)
    present = np.asarray(texts.is_valid().to_numpy(zero_copy_only=False))[order]
    order = order[present]
    offsets = np.concatenate([[0], np.cumsum(present.reshape(n, k).sum(axis=1))]).astype(np.int32)
    index = pa.array(order)
    struct = pa.StructArray.from_arrays([texts.take(index), pa.concat_arrays(slot_keys).take(index)],
                                        fields=list(SENTENCE))
    joined = pc.binary_join_element_wise(*slot_text, "" if lang == "zh" else " ", null_handling="skip")
    return pa.ListArray.from_arrays(pa.array(offsets), struct), joined


def profile_batch(batch: pa.RecordBatch, lang: str) -> pa.RecordBatch:
    """Indicator rows (with the segment's trend and name) in, profile rows out."""
    n = batch.num_rows
    facts = build_facts(batch, lang)
    listed, text = sentences(facts, lang, n)
    trend = batch.column("segment_trend")
    codes = np.array(["behind", "aligned", "ahead"], dtype=object)
    align = facts.values["trend_alignment"]
    alignment = pa.array(codes[np.nan_to_num(align, nan=0).astype(int) + 1], pa.string(), mask=np.isnan(align))
    lfl = facts.values["lfl_growth"]
    columns = {
        **{name: batch.column(name) for name in (
            "uscc", "segment_id", "chain_id", "tier", "is_anchor", "revenue_ttm", "revenue_prev", "revenue_growth_yoy",
            "excess_growth", "volatility", "customers", "customers_new", "customers_lost", "churn_rate",
            "customer_hhi", "top_customer_share", "void_rate", "hops_to_anchor", "anchor_flow_share",
            "stable_large_ties", "relationship_stability")},
        "lfl_growth": pa.array(np.round(lfl, 6), mask=np.isnan(lfl)),
        "segment_trend": trend, "trend_alignment": alignment, "facts": facts.table(n), "sentences": listed,
        "text": text, "language": pa.array([lang] * n, pa.string()),
    }
    return pa.RecordBatch.from_arrays([columns[f.name].cast(f.type) for f in PROFILE_SCHEMA], schema=PROFILE_SCHEMA)
