"""The blind profile's name noise: how buyer names get written wrong, beyond what the normaliser knows.

The standard profile's variants (``names.variant``) are the ones the resolver was written against:
legal-form swaps, brackets, a fixed homophone pair per brand character, two fixed typos. This model
adds the errors seen in real invoice and registry text, each applied once to a name:

- ``same_pinyin``: a character of the brand or trade words replaced by another common character with
  the same pinyin and tone (GB2312 level-1 characters grouped with pypinyin), never the one partner
  ``names.HOMOPHONES`` lists — 恒 → 横 rather than 恒 → 衡.
- ``shape``: a character replaced by one that looks alike (形近字: 己/已, 未/末, 材/村, 科/料 …).
- ``drop``: one character of the brand or trade words left out.
- ``swap``: two adjacent characters of the brand or trade words transposed (not only the brand).
- ``traditional``: the whole name in traditional characters (OpenCC s2t, character by character), as
  Hong Kong and Taiwan buyers and some older systems write it.
- ``latin``: a Latin transliteration — pinyin place and brand, English or pinyin trade words,
  ``Co., Ltd.`` — as on export paperwork.
- ``truncated``: the name cut off by a short field (the legal form and up to 2 characters before it lost).
- ``former``: the name before a rename (handled by the caller: it needs the firm's former name).

A kind that cannot apply to a name (no character with a same-pinyin partner, a name too short) leaves
the name as it is and the caller records ``exact``.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import numpy as np
from opencc import OpenCC
from pypinyin import Style, lazy_pinyin

from chainlight.synth import names

NOISE_KINDS = ["same_pinyin", "shape", "drop", "swap", "traditional", "latin", "truncated"]

SHAPE_SIMILAR: dict[str, str] = {}
for _pair in ["己已", "未末", "材村", "科料", "技枝", "司可", "限跟", "份伪", "达迭", "源原", "鑫鑫", "辉挥", "泰秦",
              "丰半", "宏宠", "利刊", "祥详", "瑞端", "通诵", "诚城", "正止", "博傅", "凯恺", "润涧", "兴共", "昌冒",
              "创仓", "聚娶", "德徳", "富副", "裕浴", "驰池", "航舫", "腾滕", "锦绵", "铭镕", "泽择", "耀跃", "金全",
              "天夭", "云去", "川州", "江汪", "河何", "久夂", "永水", "安案", "宁守", "康唐", "美关", "乐东", "精请",
              "工土", "伟传", "业亚", "众从", "晶品", "优忧", "维堆", "电由", "汽气", "车东", "新亲", "贸货", "易昜",
              "械戒", "机杌", "化花", "学字", "药约", "业北", "纺访", "织识", "食良", "品晶"]:
    if _pair[0] != _pair[1]:
        SHAPE_SIMILAR.setdefault(_pair[0], _pair[1])

TRADE_ENGLISH = {"新材料科技": "New Material Technology", "科技": "Technology", "汽车部件": "Auto Parts",
                 "汽车零部件": "Auto Parts", "电子科技": "Electronic Technology", "汽车": "Automobile",
                 "药业": "Pharmaceutical", "制药": "Pharmaceutical", "医疗器械": "Medical Devices",
                 "化工": "Chemical", "纺织": "Textile", "服饰": "Apparel", "食品": "Food", "包装": "Packaging",
                 "电机": "Motor", "轴承": "Bearing", "机械": "Machinery", "新能源": "New Energy",
                 "光伏科技": "PV Technology", "半导体": "Semiconductor", "钢铁": "Steel", "橡胶": "Rubber",
                 "涂料": "Coatings", "建材": "Building Materials", "电子": "Electronics", "智能装备": "Intelligent Equipment"}
LEGAL_FORMS = ["集团股份有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "有限公司"]


_GB2312_GAPS = {(0xD7, lo) for lo in range(0xFA, 0xFF)}


def _gb2312(level_one_only: bool) -> list[str]:
    """The GB2312 characters (level 1: the 3,755 most common), in code order."""
    last = 0xD8 if level_one_only else 0xF8
    return [bytes([hi, lo]).decode("gb2312") for hi in range(0xB0, last) for lo in range(0xA1, 0xFF)
            if (hi, lo) not in _GB2312_GAPS]


@cache
def _same_pinyin() -> dict[str, list[str]]:
    """Each GB2312 level-1 character → the other level-1 characters with its pinyin and tone."""
    groups: dict[str, list[str]] = defaultdict(list)
    for char in _gb2312(level_one_only=True):
        groups[lazy_pinyin(char, style=Style.TONE3)[0]].append(char)
    return {c: [o for o in group if o != c and o != names.HOMOPHONES.get(c)]
            for group in groups.values() for c in group if len(group) > 1}


@cache
def _s2t() -> dict[int, str]:
    """Simplified → traditional per character (OpenCC s2t), for ``str.translate``: a whole-name OpenCC
    call costs a quarter of a millisecond, too slow for millions of invoices."""
    converter = OpenCC("s2t")
    table = {}
    for char in _gb2312(level_one_only=False):
        converted = converter.convert(char)
        if len(converted) == 1 and converted != char:
            table[ord(char)] = converted
    return table


@cache
def _pinyin(text: str) -> list[str]:
    return list(lazy_pinyin(text))


def _split_form(name: str) -> tuple[str, str]:
    """(body, legal form) of a registered name."""
    for form in LEGAL_FORMS:
        if name.endswith(form):
            return name[: -len(form)], form
    return name, ""


def _editable(name: str, brand: str, trade: str) -> tuple[int, int]:
    """The span of brand + trade words in ``name`` (where people's typing errors land)."""
    start = name.find(brand)
    if start < 0:
        return 0, len(_split_form(name)[0])
    end = name.find(trade, start)
    return start, (end + len(trade)) if end >= 0 else start + len(brand)


def _latin(name: str, brand: str, trade: str, city: str) -> str:
    body, form = _split_form(name)
    english = TRADE_ENGLISH.get(trade) or " ".join(w.capitalize() for w in _pinyin(trade))
    place = "".join(_pinyin(city)).capitalize() if city in body else ""
    brand_latin = "".join(_pinyin(brand)).capitalize()
    suffix = "Group Co., Ltd." if "集团" in form else "Co., Ltd."
    return " ".join(p for p in (place, brand_latin, english, suffix) if p)


def noisy(name: str, kind: str, rng: np.random.Generator, *, brand: str, trade: str, city: str) -> str:
    """``name`` with one error of ``kind`` (see the module docstring); unchanged when it cannot apply."""
    start, end = _editable(name, brand, trade)
    span = list(range(start, end))
    if kind == "same_pinyin" or kind == "shape":
        table: dict[str, list[str]] = _same_pinyin() if kind == "same_pinyin" else \
            {k: [v] for k, v in SHAPE_SIMILAR.items()}
        options = [i for i in span if table.get(name[i])]
        if not options:
            return name
        i = options[int(rng.integers(len(options)))]
        choices = table[name[i]]
        return name[:i] + choices[int(rng.integers(len(choices)))] + name[i + 1:]
    if kind == "drop":
        if len(span) < 3:
            return name
        i = span[int(rng.integers(len(span)))]
        return name[:i] + name[i + 1:]
    if kind == "swap":
        if len(span) < 3:
            return name
        i = span[int(rng.integers(len(span) - 1))]
        if name[i] == name[i + 1]:
            return name
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    if kind == "traditional":
        return name.translate(_s2t())
    if kind == "latin":
        return _latin(name, brand, trade, city)
    if kind == "truncated":
        body, form = _split_form(name)
        cut = len(body) - int(rng.integers(0, 3)) if form else len(name) - 2
        return name[:max(cut, 4)] if len(body) > 5 else name
    raise ValueError(f"unknown noise kind {kind!r}")
