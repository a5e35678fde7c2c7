"""Chinese company-name normalisation: a name → (region, core, legal form, branch) for matching.

Rules, in order: Unicode NFKC (full-width → half-width, so （） and () agree), traditional →
simplified, drop whitespace and punctuation, drop stock-name marks (*ST, ST, a trailing A/B share
letter), cut a branch suffix (…公司苏州分公司 → the parent), take a bracketed region out
(腾讯科技(深圳)有限公司), strip the legal form (股份有限公司, 有限责任公司, 集团, 厂, and common typos
of them), strip leading place names (province, city, county; up to two). What is left is the core:
the brand (字号) plus industry words, which is what short names keep.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from opencc import OpenCC

LEGAL_FORMS = ["集团股份有限公司", "集团有限责任公司", "集团有限公司", "股份有限公司", "有限责任公司", "股份合作公司",
               "有限合伙", "合伙企业", "有限公司", "股份公司", "集团公司", "总公司", "公司", "集团", "总厂", "厂",
               "股份"]
# typed or truncated legal forms seen on invoices (有线公司, 有限公斯, 有限公)
LEGAL_FORM_TYPO = re.compile(r"(股份)?有[限线](责任)?公[司斯]?$")
BRANCH = re.compile(r"^(.{2,}?(?:公司|厂|集团|银行))(.{0,12}?)(分公司|分厂|分行|支行|营业部|办事处|分店|经营部|分部)$")
BRACKET = re.compile(r"\(([^()]*)\)")
CJK = re.compile(r"[\u4e00-\u9fff]")
PUNCTUATION = re.compile(r"[\s·•.,，。、'\"“”‘’\-—_/\\:：;；!！?？&＆+]")
STOCK_PREFIX = re.compile(r"^\*?ST")
STOCK_SUFFIX = re.compile(r"(?<=[\u4e00-\u9fff])[AB]$")
PROVINCES = ["北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西",
             "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古",
             "广西", "西藏", "宁夏", "新疆", "香港", "澳门", "中国"]
PLACE_SUFFIXES = ("省", "市", "区", "县", "自治区", "自治州", "地区", "盟")

_T2S = OpenCC("t2s")


@dataclass(frozen=True)
class NameParts:
    regions: tuple[str, ...]  # place names found, broadest first, without 省/市/县
    core: str
    legal_form: str
    branch: bool

    @property
    def region(self) -> str:
        return self.regions[-1] if self.regions else ""


def _lexicon(file: str) -> set[str]:
    """A word list shipped by the companynameparser package (Apache-2.0), read without importing it."""
    spec = importlib.util.find_spec("companynameparser")
    if spec and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / file
        if path.exists():
            return {w.strip() for w in path.read_text(encoding="utf-8").split() if len(w.strip()) >= 2}
    return set()


@lru_cache(maxsize=1)
def places() -> frozenset[str]:
    """Place names: provinces, plus prefecture and county names."""
    return frozenset(set(PROVINCES) | _lexicon("china_place.txt"))


@lru_cache(maxsize=1)
def trade_words() -> frozenset[str]:
    """Industry words (汽车电子, 新材料, 科技…): a core made only of these names no one in particular."""
    return frozenset(_lexicon("trade.txt") | {"科技", "实业", "贸易", "工贸", "制造", "发展", "投资", "控股", "集团"})


def is_generic(core: str) -> bool:
    """True when the core is one industry word or two glued together (no brand left)."""
    words = trade_words()
    return core in words or any(core[:k] in words and core[k:] in words for k in range(2, len(core) - 1))


@lru_cache(maxsize=1)
def _place_lengths() -> list[int]:
    return sorted({len(p) for p in places()}, reverse=True)


def _strip_place(text: str) -> tuple[str, str]:
    """Longest leading place name (with its 省/市/县 suffix) if enough is left after it."""
    known = places()
    for length in _place_lengths():
        head = text[:length]
        if head in known and len(text) - length >= 2:
            rest = text[length:]
            for suffix in PLACE_SUFFIXES:
                if rest.startswith(suffix) and len(rest) - len(suffix) >= 2:
                    rest = rest[len(suffix):]
                    break
            return head, rest
    return "", text


def _is_place(text: str) -> bool:
    return bool(text) and (text in places() or text.rstrip("省市区县") in places())


@lru_cache(maxsize=1)
def _t2s_triggers() -> tuple[frozenset[str], tuple[str, ...]]:
    """What the traditional → simplified dictionaries can act on: their one-character keys, and the
    phrase keys that hold none of those characters. A text containing neither has no dictionary key
    in it, so the (pure-Python, slow) conversion would return it unchanged and can be skipped."""
    _T2S.convert("")  # loads the dictionaries
    keys = {key for group in getattr(_T2S, "_dict_chain_data", []) for (_, _, table) in group for key in table}
    chars = frozenset(k for k in keys if len(k) == 1)
    return chars, tuple(sorted(k for k in keys if len(k) > 1 and chars.isdisjoint(k)))


def _simplified(text: str) -> str:
    chars, phrases = _t2s_triggers()
    if not chars:  # the dictionaries could not be read: convert every text
        return str(_T2S.convert(text))
    if chars.isdisjoint(text) and not any(p in text for p in phrases):
        return text
    return str(_T2S.convert(text))


@lru_cache(maxsize=200_000)
def clean(name: str) -> str:
    """Width, script, whitespace and punctuation only: the form two spellings of one name share."""
    text = unicodedata.normalize("NFKC", name or "")
    if CJK.search(text):
        text = _simplified(text)
    # NFKC again after upper-casing: some capitals only exist decomposed (ǰ → J̌), and a second clean()
    # must not change the result.
    return unicodedata.normalize("NFKC", PUNCTUATION.sub("", text).upper())


@lru_cache(maxsize=500_000)
def normalise(name: str) -> NameParts:
    text = clean(name)
    text = STOCK_SUFFIX.sub("", STOCK_PREFIX.sub("", text))
    branch = False
    match = BRANCH.match(text)
    if match:
        text, branch = match.group(1), True
    regions: list[str] = []
    bracket_form = ""  # 江苏天目湖(集团)有限公司: the bracketed 集团 is part of the legal form
    for inner in BRACKET.findall(text):
        if inner in ("集团", "股份"):
            bracket_form += inner
        if _is_place(inner):
            regions.append(_bare_place(inner))
        text = text.replace(f"({inner})", "" if _is_place(inner) or inner in ("集团", "股份") else inner, 1)
    form = ""
    while True:  # 集团 + 有限公司 may both be present
        typo = LEGAL_FORM_TYPO.search(text)
        if typo and typo.start() >= 2:
            form = ("股份" if typo.group(1) else "") + "有限公司" + form
            text = text[: typo.start()]
            continue
        for suffix in LEGAL_FORMS:
            if text.endswith(suffix) and len(text) > len(suffix) + 1:
                form = suffix + form
                text = text[: -len(suffix)]
                break
        else:
            break
    form = bracket_form + form
    leading = []
    for _ in range(2):
        place, rest = _strip_place(text)
        if not place or is_generic(rest):  # 安宁汽车电子: here 安宁 is the brand, not the town
            break
        leading.append(_bare_place(place))
        text = rest
    return NameParts(regions=tuple(leading + regions), core=text, legal_form=form, branch=branch)


def _bare_place(place: str) -> str:
    for suffix in PLACE_SUFFIXES:
        if place.endswith(suffix) and len(place) > len(suffix) + 1:
            return place[: -len(suffix)]
    return place
