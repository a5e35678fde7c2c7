"""The firms of the economy: segments, size, place, health, registry entries (some of them wrong).

Blind profile, anchors (核心企业): an anchor is not marked by anything in its registry entry. Its legal
form, founding date and registry quality follow its *size*, the same rules as for every other large firm
(turnover ≥ ``LARGE_TURNOVER``, which the largest SMEs of a tier reach too):
- legal form from ``LARGE_LEGAL_FORMS``: large Chinese firms are mostly joint-stock or group companies
  (股份有限公司, 集团有限公司, 集团股份有限公司), but plenty stay 有限公司 — so no suffix tells an anchor apart;
- founded uniformly in ``LARGE_FOUNDED`` (1985–2012): large firms are older than the SME long tail
  (uniform 1995–2022), but no date is shared;
- misregistered at ``LARGE_MISREGISTERED_SHARE`` like every large firm (their filings are newer and
  reviewed more often than a micro firm's, but scopes still lag new lines of business).
What makes an anchor is its behaviour in trade (``trade.make_edges``: many suppliers, dependent on it,
on long steady ties). The standard profile is unchanged (pinned hashes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainlight import uscc
from chainlight.ontology.model import Ontology, Segment
from chainlight.synth import names
from chainlight.synth import spill as spilled
from chainlight.synth.spill import Picked, Spill, block_rng
from chainlight.synth.vocab import Vocabulary

TIER_WEIGHT = {"raw_material": 0.6, "material": 1.0, "component": 1.4, "system": 0.9, "assembly": 0.6,
               "retail_service": 1.0}
TIER_MEDIAN_TURNOVER = {"raw_material": 3e7, "material": 1.5e7, "component": 1e7, "system": 2e7, "assembly": 8e6,
                        "retail_service": 3e6}
ANCHORS_PER_CHAIN = 3
BLIND_ANCHORS_PER_CHAIN = (1, 6)  # blind: drawn per chain, inclusive
BLIND_ANCHOR_TURNOVER = (1.5e9, 0.9)  # blind: lognormal median and σ, overlapping the largest SMEs (¥1–3bn)
SECONDARY_SHARE = 0.07  # firms with a second (often cross-chain) business
MISREGISTERED_SHARE = 0.37
CLUSTER_SHARE = 0.25  # share of a segment's firms in its cluster city
RENAMED_SHARE = 0.08
LARGE_TURNOVER = 5e8  # blind: from here a firm gets a large firm's legal form, age and registry
LARGE_LEGAL_FORMS = ["股份有限公司", "集团有限公司", "集团股份有限公司", "有限公司", "有限责任公司"]
LARGE_LEGAL_FORM_WEIGHTS = [0.35, 0.2, 0.15, 0.2, 0.1]
LARGE_FOUNDED = ("1985-01-01", 365 * 27)  # blind: large firms, anchors or not: founded 1985–2012, uniform
LARGE_MISREGISTERED_SHARE = 0.15  # blind: large firms' registry (anchors included) is wrong less often
BLIND_RENAMED_SHARE = 0.15  # blind: more renames, half of them keeping the brand and changing the trade words

# Trade words (行业词) a firm of a segment puts in its name; the first is the most common.
TRADE_WORDS: dict[str, list[str]] = {
    "specialty_steel": ["钢铁", "金属材料", "特钢"], "engineering_plastics": ["新材料科技", "塑胶", "高分子材料"],
    "castings": ["铸造", "精密铸锻", "机械"], "interior_parts": ["汽车内饰", "汽车部件", "饰件"],
    "powertrain_parts": ["汽车零部件", "传动科技", "精密机械"], "vehicle_electronics": ["汽车电子", "电子科技"],
    "vehicle_assembly": ["汽车", "汽车工业"], "dealership": ["汽车销售服务", "汽车贸易"],
    "api": ["药业", "制药", "生物化工"], "excipients": ["药用辅料", "药业"], "medical_polymers": ["医用材料", "高分子科技"],
    "diagnostics": ["生物科技", "诊断技术"], "formulations": ["药业", "制药"], "devices": ["医疗器械", "医疗科技"],
    "distribution": ["医药", "大药房"], "cement": ["水泥", "建材"], "rebar": ["钢铁", "钢材"], "glass": ["玻璃", "节能玻璃"],
    "waterproofing": ["防水材料", "建材科技"], "prefab": ["建筑科技", "钢结构"], "general_contractor": ["建设", "建工"],
    "decoration": ["装饰工程", "建筑装饰"], "silicon_wafer": ["半导体", "硅材料"], "pcb": ["电路", "电子"],
    "passive": ["电子元件", "电子"], "chips": ["微电子", "半导体科技"], "display": ["光电", "显示科技"],
    "consumer_devices": ["通讯", "电子科技"], "retail": ["通讯器材", "数码"], "lithium": ["锂业", "锂电材料"],
    "cathode": ["新能源材料", "电池材料"], "separator": ["新材料", "隔膜科技"], "battery_cells": ["新能源", "电池"],
    "pv_modules": ["光伏科技", "新能源"], "power_station": ["新能源发电", "电力"], "charging": ["充电科技", "新能源"],
    "fibers": ["化纤", "化学纤维"], "yarn": ["纺织", "棉纺"], "fabric": ["纺织", "织造"], "dyeing": ["印染", "染整"],
    "garments": ["服饰", "服装"], "apparel_retail": ["服饰", "商贸"], "grain_oil": ["粮油", "面业"],
    "raw_milk": ["牧业", "乳业"], "additives": ["生物科技", "食品配料"], "packaging": ["包装", "包装材料"],
    "processed_food": ["食品", "乳业"], "food_retail": ["超市", "餐饮管理"], "petrochemicals": ["石化", "化工"],
    "resins": ["化工", "塑料"], "fine_chemicals": ["化学", "精细化工"], "coatings": ["涂料", "化工"],
    "rubber": ["橡胶", "轮胎"], "trading": ["化工贸易", "商贸"], "bearings": ["轴承", "液压"], "motors": ["电机", "电气"],
    "control_systems": ["自动化", "电气科技"], "machine_tools": ["机床", "数控"], "robots": ["智能装备", "机器人"],
    "services": ["机械设备", "设备租赁"],
}

VAGUE_REGISTRATIONS = [
    ("通用机械设备制造、销售；机械零部件加工；技术开发、技术咨询", "3499"),
    ("一般项目：技术服务、技术开发、技术咨询、技术交流；货物进出口；技术进出口", "7519"),
    ("销售：五金产品、机械设备、电子产品、化工产品（不含危险化学品）", "5179"),
    ("一般项目：新材料技术推广服务；贸易经纪；国内贸易代理", "5199"),
]

# Firm columns read only when the registry and truth tables are written (``Firms.rows``).
REGISTRY_ONLY = ("scope", "industry_code", "founded", "registered_capital", "province", "cluster", "misregistered",
                 "secondary_share")
# Firm columns written to disk a block at a time and read memory-mapped (``make_firms``): all but the numeric
# columns ``trade.make_edges`` reads for every firm at once (``NUMERIC``).
SPILLED = (*REGISTRY_ONLY, "uscc", "name", "brand", "trade", "city", "former_name", "main_product")

STORY_FIRM_NAME = "嘉兴丞达新材料科技有限公司"
STORY_COMPONENT_NAME = "宁波恒驰汽车部件有限公司"
STORY_ANCHOR_NAME = "远航汽车集团股份有限公司"


@dataclass
class Firms:
    """Column arrays, one entry per firm (index = firm id)."""

    uscc: np.ndarray
    name: np.ndarray
    brand: np.ndarray
    trade: np.ndarray
    province: np.ndarray
    city: np.ndarray
    main_segment: np.ndarray  # index into segments
    secondary_segment: np.ndarray  # -1 = none
    secondary_share: np.ndarray
    is_anchor: np.ndarray
    turnover: np.ndarray  # yuan per year
    health: np.ndarray
    cluster: np.ndarray  # cluster label or ""
    misregistered: np.ndarray
    scope: np.ndarray
    industry_code: np.ndarray
    founded: np.ndarray  # datetime64[D]
    registered_capital: np.ndarray
    former_name: np.ndarray  # "" = never renamed
    main_product: np.ndarray  # index of the product a firm mostly sells within its segment

    @property
    def count(self) -> int:
        return len(self.uscc)

    def release(self) -> None:
        """Map the spilled columns afresh: the pages the last batch read leave this process's RSS (they stay
        in the page cache, which the kernel may drop and read back)."""
        for name in SPILLED:
            column = getattr(self, name)
            if isinstance(column, np.memmap) and column.filename is not None:
                setattr(self, name, np.load(column.filename, mmap_mode="r"))

    def rows(self, name: str, start: int, stop: int) -> np.ndarray:
        """Column ``name`` for firms ``start:stop`` as an in-memory copy; a spilled column is mapped afresh
        and unmapped again, so reading it through chunk by chunk leaves no pages behind."""
        column = getattr(self, name)
        if not isinstance(column, np.memmap) or column.filename is None:
            return np.asarray(column[start:stop])
        mapped = np.load(column.filename, mmap_mode="r")
        try:
            return np.array(mapped[start:stop])
        finally:
            del mapped

    def size_class(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """anchor / mid (≥ ¥100M) / small (≥ ¥10M) / micro, for firms ``start:stop`` (all by default)."""
        is_anchor, turnover = self.is_anchor[start:stop], self.turnover[start:stop]
        return np.where(is_anchor, "anchor", np.where(turnover >= 1e8, "mid", np.where(turnover >= 1e7, "small", "micro")))


PICKED = ("uscc", "name", "brand", "trade", "city", "former_name")  # what an invoice batch reads of its firms


class FirmView:
    """The firms an invoice batch names (``ids``: its sellers and buyers), their ``PICKED`` columns read
    through the spill files (``spill.take``) and indexed by firm id as the whole columns are; every other
    attribute is the firms'. Buyers are spread over all firms: faulting them in from the maps would bring
    about 64 KB of each column into RSS per buyer."""

    def __init__(self, firms: Firms, ids: np.ndarray) -> None:
        self._firms = firms
        ids = np.unique(ids)
        for name in PICKED:
            setattr(self, name, Picked(getattr(firms, name), ids))

    def __getattr__(self, name: str) -> object:
        return getattr(self._firms, name)


def segment_table(ontology: Ontology) -> list[Segment]:
    return [s for chain in ontology.chains for s in chain.segments]


def _trade_words(segment: Segment) -> list[str]:
    return TRADE_WORDS.get(segment.id.split(".", 1)[1], names.TRADE_FALLBACK)


NUMERIC = ("main_segment", "secondary_segment", "is_anchor", "turnover", "health")  # kept in memory (~20 B a firm)


def make_firms(ontology: Ontology, count: int, seeds: np.random.SeedSequence, folder: Path,
               vocab: Vocabulary | None = None) -> Firms:
    """The firms, made a block of ``spill.FIRM_BLOCK`` firms at a time from the block's own stream, their text
    columns written straight to ``folder`` (memory-mapped); names and codes kept unique across blocks by
    ``_Taken`` (8 bytes a firm). ``vocab`` set = the blind profile (1–6 anchors per chain, their turnover
    overlapping the largest SMEs', registry scopes half in held-out scope terms)."""
    segments = segment_table(ontology)
    seg_ids = [s.id for s in segments]
    tiers = np.array([s.tier for s in segments])
    rng = np.random.default_rng(seeds)  # the economy-wide draws; every firm's own come from its block's stream

    # Planted firms: the story firm, its component maker, then anchors (3 per chain, on assembly tiers).
    plastics, component = seg_ids.index("automotive.engineering_plastics"), seg_ids.index("automotive.interior_parts")
    planted = [plastics, component]
    anchor_counts = [ANCHORS_PER_CHAIN] * len(ontology.chains) if vocab is None else \
        rng.integers(BLIND_ANCHORS_PER_CHAIN[0], BLIND_ANCHORS_PER_CHAIN[1] + 1, len(ontology.chains)).tolist()
    for chain, anchors in zip(ontology.chains, anchor_counts, strict=True):
        # anchors sit on the chain's most downstream making tier (assembly where there is one)
        making = [s for s in chain.segments if s.tier != "retail_service"]
        top = max(chain.tiers.index(s.tier) for s in making)
        assembly = [seg_ids.index(s.id) for s in making if chain.tiers.index(s.tier) == top]
        planted += [assembly[k % len(assembly)] for k in range(anchors)]
    world = _World(segments, tiers, np.array(planted), plastics, vocab, _Taken(), _Taken())
    numeric: dict[str, list[np.ndarray]] = {name: [] for name in NUMERIC}
    spill = Spill(folder, "firms")
    if spilled.FIRM_BLOCK < len(planted):
        raise ValueError("the planted firms must all sit in the first block")
    for block, begin, stop in spilled.blocks(count):
        columns = world.block(begin, stop, block_rng(seeds, block))
        for name, values in columns.items():
            if name in NUMERIC:
                numeric[name].append(values)
            else:
                spill.append(name, values)
        world.names.fold()
        world.codes.fold()
    kept = {name: np.concatenate(parts) for name, parts in numeric.items()}
    return Firms(**kept, **{name: spill.finish(name) for name in SPILLED})


@dataclass
class _World:
    """What every block of firms shares: the segments, the planted firms' segments (the story firms, then
    the anchors: firm ids 0 … len(planted) − 1), and the names and codes taken so far."""

    segments: list[Segment]
    tiers: np.ndarray
    planted: np.ndarray
    plastics: int
    vocab: Vocabulary | None
    names: _Taken
    codes: _Taken

    def block(self, begin: int, stop: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Firms ``begin:stop``, every draw from ``rng``; firm 0 is the story firm wherever a rule says so."""
        segments, tiers, vocab = self.segments, self.tiers, self.vocab
        count = stop - begin
        first = begin == 0  # the planted firms all sit in the first block
        seg_ids = [s.id for s in segments]
        chain_of = np.array([s.id.split(".")[0] for s in segments])
        weights = np.array([TIER_WEIGHT[t] for t in tiers])
        main = rng.choice(len(segments), size=count, p=weights / weights.sum())
        is_anchor = np.zeros(count, bool)
        if first:
            main[:len(self.planted)] = self.planted
            is_anchor[2:len(self.planted)] = True

        tier_of_firm = tiers[main]
        median = np.array([TIER_MEDIAN_TURNOVER[t] for t in tiers])[main]
        turnover = median * rng.lognormal(0.0, 1.15, count)
        median_anchor, sigma_anchor = (2e10, 0.5) if vocab is None else BLIND_ANCHOR_TURNOVER
        turnover[is_anchor] = rng.lognormal(np.log(median_anchor), sigma_anchor, int(is_anchor.sum()))
        health = rng.normal(0.0, 1.0, count)
        if first:
            turnover[0], turnover[1] = 1.0e7, 1.8e8
            health[0] = 0.8

        secondary = np.full(count, -1)
        has_secondary = (rng.random(count) < SECONDARY_SHARE) & ~is_anchor & np.isin(tier_of_firm, ["material", "component"])
        if first:
            has_secondary[0] = False
        same_tier = {t: np.nonzero(tiers == t)[0] for t in set(tiers)}
        for firm in np.nonzero(has_secondary)[0]:
            options = same_tier[tier_of_firm[firm]]
            options = options[chain_of[options] != chain_of[main[firm]]]
            secondary[firm] = options[int(rng.integers(len(options)))]
        secondary_share = np.where(secondary >= 0, rng.uniform(0.2, 0.4, count), 0.0)

        # Place: each segment has a cluster city where a quarter of its firms sit.
        city_idx = rng.choice(len(names.CITIES), size=count, p=names.CITY_WEIGHTS)
        cluster_city = np.array([(k * 7) % len(names.CITIES) for k in range(len(segments))])
        cluster_city[self.plastics] = 0  # 嘉兴: new-materials cluster
        in_cluster = rng.random(count) < CLUSTER_SHARE
        if first:
            in_cluster[0] = True
        city_idx = np.where(in_cluster, cluster_city[main], city_idx)
        province = np.array([names.CITIES[c][0] for c in city_idx])
        city = np.array([names.CITIES[c][1] for c in city_idx])
        cluster = np.where(in_cluster, np.char.add(np.char.add(np.array(seg_ids)[main], "@"), city), "")

        # Registry: scope text and industry code, wrong or vague for a realistic share.
        large = turnover >= LARGE_TURNOVER
        if vocab is None:
            misregistered = rng.random(count) < MISREGISTERED_SHARE
            misregistered[is_anchor] = False
        else:  # blind: by size, anchors like any other large firm
            misregistered = rng.random(count) < np.where(large, LARGE_MISREGISTERED_SHARE, MISREGISTERED_SHARE)
        if first:
            misregistered[0] = True
        scope, code = [], []
        for i in range(count):
            seg = segments[int(main[i])]
            story = first and i == 0
            if misregistered[i] and (story or rng.random() < 0.7):
                text, industry = VAGUE_REGISTRATIONS[0 if story else int(rng.integers(len(VAGUE_REGISTRATIONS)))]
            else:
                if misregistered[i]:  # plausible but wrong: another segment of the same tier
                    options = same_tier[seg.tier]
                    seg = segments[int(options[int(rng.integers(len(options)))])]
                terms = list(rng.permutation(seg.scope_terms))[:2] if vocab is None else _blind_scope(vocab, seg.id, rng)
                text = "、".join(terms) + "；" + ("货物进出口；技术进出口" if rng.random() < 0.5 else "销售自产产品")
                industry = seg.industry_codes[int(rng.integers(len(seg.industry_codes)))]
            scope.append(text)
            code.append(industry)

        founded = np.datetime64("1995-01-01") + rng.integers(0, 365 * 27, count).astype("timedelta64[D]")
        if vocab is None:
            founded[is_anchor] = np.datetime64("1990-06-01")
        else:  # blind: large firms are older, anchors among them with no date of their own
            older = np.datetime64(LARGE_FOUNDED[0]) + rng.integers(0, LARGE_FOUNDED[1], count).astype("timedelta64[D]")
            founded = np.where(large, older, founded)
        capital = np.round(turnover * rng.uniform(0.05, 0.4, count), -4)

        brands, trades, full_names, formers = _names(segments, main, city, is_anchor, begin, rng, self.names,
                                                     blind=vocab is not None, large=large)
        codes = _usccs(city_idx, rng, self.codes)
        main_product = rng.integers(0, 1 << 16, count)
        if first:
            main_product[0] = 0  # the story firm's 耐高温尼龙
        return {"uscc": codes, "name": full_names, "brand": brands, "trade": trades, "province": province,
                "city": city, "main_segment": main.astype(np.int16), "secondary_segment": secondary.astype(np.int16),
                "secondary_share": secondary_share, "is_anchor": is_anchor, "turnover": turnover, "health": health,
                "cluster": cluster, "misregistered": misregistered, "scope": np.array(scope),
                "industry_code": np.array(code), "founded": founded, "registered_capital": capital,
                "former_name": formers, "main_product": main_product}


class _Taken:
    """Strings taken so far, for uniqueness across blocks in flat memory: earlier blocks' as a sorted array
    of 64-bit digests (8 bytes a firm; BLAKE2b, so the same in every process), this block's in a set."""

    def __init__(self) -> None:
        self.done = np.empty(0, np.int64)
        self.current: set[str] = set()

    def __contains__(self, text: str) -> bool:
        if text in self.current:
            return True
        key = _digest(text)
        at = int(np.searchsorted(self.done, key))
        return at < len(self.done) and int(self.done[at]) == key

    def add(self, text: str) -> None:
        self.current.add(text)

    def fold(self) -> None:
        """Move this block's strings into the sorted digests (a merge of two sorted runs)."""
        new = np.sort(np.array([_digest(t) for t in self.current], np.int64))
        self.done = np.sort(np.concatenate([self.done, new]), kind="stable")
        self.current = set()


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)


def _blind_scope(vocab: Vocabulary, segment_id: str, rng: np.random.Generator) -> list[str]:
    """Two scope terms, each held out about half of the time."""
    words = vocab.segments[segment_id]
    picked: list[str] = []
    for _ in range(2):
        pool = words.held_out_scope if words.held_out_scope and rng.random() < 0.5 else words.seen_scope
        term = pool[int(rng.integers(len(pool)))]
        if term not in picked:
            picked.append(term)
    return picked


def _names(segments: list[Segment], main: np.ndarray, city: np.ndarray, is_anchor: np.ndarray, begin: int,
           rng: np.random.Generator, taken: _Taken, blind: bool = False, large: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Registered names of firms ``begin:begin + len(main)``, none in ``taken``; standard: anchors are
    集团股份有限公司; blind: large firms (``large``) draw from the large firms' legal forms, anchors or not."""
    brands, trades, full, formers = [], [], [], []
    planted = {0: (STORY_FIRM_NAME, "丞达", "新材料科技"),
               1: (STORY_COMPONENT_NAME, "恒驰", "汽车部件"), 2: (STORY_ANCHOR_NAME, "远航", "汽车")}
    for i in range(len(main)):
        firm = begin + i
        if firm in planted:
            name, brand, trade = planted[firm]
        else:
            words = _trade_words(segments[main[i]])
            trade = words[0] if rng.random() < 0.6 else words[int(rng.integers(len(words)))]
            while True:
                brand = names.pick_brand(rng)
                if blind and large is not None and large[i]:
                    form = LARGE_LEGAL_FORMS[int(rng.choice(len(LARGE_LEGAL_FORMS), p=LARGE_LEGAL_FORM_WEIGHTS))]
                else:
                    form = "集团股份有限公司" if is_anchor[i] and not blind else names.LEGAL_FORMS[
                        int(rng.choice(len(names.LEGAL_FORMS), p=names.LEGAL_FORM_WEIGHTS))]
                roll = rng.random()
                region = city[i] if roll < 0.75 else ("" if roll < 0.9 else city[i])
                name = names.registered_name(region, brand, trade, form, bracket_region=roll >= 0.9)
                if name not in taken:
                    break
        taken.add(name)
        brands.append(brand)
        trades.append(trade)
        full.append(name)
        former = ""
        if firm > 2 and rng.random() < (BLIND_RENAMED_SHARE if blind else RENAMED_SHARE):
            if blind and rng.random() < 0.5:  # same brand, older trade words (塑胶 → 新材料科技)
                old_trade = names.TRADE_FALLBACK[int(rng.integers(len(names.TRADE_FALLBACK)))]
                old = f"{city[i]}{brand}{old_trade}有限公司"
            else:
                old = f"{city[i]}{names.pick_brand(rng)}{trade}有限公司"
            former = old if old not in taken else ""
        formers.append(former)
    return np.array(brands), np.array(trades), np.array(full), np.array(formers)


def _usccs(city_idx: np.ndarray, rng: np.random.Generator, seen: _Taken) -> np.ndarray:
    """Valid codes, none in ``seen``: 91 (company, enterprise) + a division per city + a random organisation body."""
    alphabet = np.array(list(uscc.ALPHABET))
    divisions = [f"{330400 + 100 * k:06d}" for k in range(len(names.CITIES))]
    codes = []
    for c in city_idx:
        while True:
            body = "".join(rng.choice(alphabet, 8))
            code = uscc.make("9", "1", divisions[c], body)
            if code not in seen:
                break
        seen.add(code)
        codes.append(code)
    return np.array(codes)
