"""Chinese enterprise names and the variants they take on invoices, patents and reports.

A registered name is region + brand (字号) + industry words + legal form, e.g. 嘉兴 + 丞达 + 新材料科技 +
有限公司. Variants are what people actually type: short names, old names, typos and homophones, legal
form swaps, full/half-width brackets, branch suffixes. All word lists here are written for the
generator (fictional brands; real place names only as places).
"""

from __future__ import annotations

import numpy as np

# (province, city) pairs; the first ones carry more firms.
CITIES: list[tuple[str, str]] = [
    ("浙江", "嘉兴"), ("浙江", "宁波"), ("浙江", "杭州"), ("浙江", "温州"), ("浙江", "绍兴"), ("江苏", "苏州"),
    ("江苏", "无锡"), ("江苏", "常州"), ("江苏", "南京"), ("江苏", "南通"), ("广东", "深圳"), ("广东", "东莞"),
    ("广东", "佛山"), ("广东", "广州"), ("广东", "惠州"), ("山东", "青岛"), ("山东", "济南"), ("山东", "烟台"),
    ("山东", "潍坊"), ("上海", "上海"), ("北京", "北京"), ("天津", "天津"), ("重庆", "重庆"), ("四川", "成都"),
    ("湖北", "武汉"), ("湖北", "襄阳"), ("湖南", "长沙"), ("河南", "郑州"), ("河北", "石家庄"), ("河北", "唐山"),
    ("安徽", "合肥"), ("安徽", "芜湖"), ("福建", "厦门"), ("福建", "泉州"), ("江西", "南昌"), ("江西", "宜春"),
    ("辽宁", "沈阳"), ("辽宁", "大连"), ("吉林", "长春"), ("陕西", "西安"), ("广西", "柳州"), ("云南", "昆明"),
]
CITY_WEIGHTS = np.array([3.0] * 10 + [2.0] * 10 + [1.0] * (len(CITIES) - 20))
CITY_WEIGHTS /= CITY_WEIGHTS.sum()

# Brand characters in homophone pairs (同音字): a typed name may swap one for its partner.
HOMOPHONES: dict[str, str] = {}
_PAIRS = ["恒衡", "达大", "华化", "信新", "盛胜", "源元", "鑫欣", "辉晖", "泰太", "丰峰", "宏鸿", "利力", "祥翔",
          "瑞锐", "通同", "嘉佳", "诚成", "正政", "弘洪", "远原", "博搏", "科可", "凯楷", "润闰", "兴星", "昌常",
          "创闯", "聚巨", "德得", "富付", "裕玉", "丞承", "驰弛", "航杭", "腾藤", "锦晋", "铭明", "泽则", "耀曜"]
for _pair in _PAIRS:
    HOMOPHONES[_pair[0]], HOMOPHONES[_pair[1]] = _pair[1], _pair[0]
BRAND_CHARS = np.array(sorted(HOMOPHONES) + list("金银海天云山川江河久立方圆永安宁康健美乐和平志远卓越精工伟业众合"
                                               "东南西北中新亚欧美联合晶致尚品优维"))
LEGAL_FORMS = ["有限公司", "有限责任公司", "股份有限公司", "集团有限公司"]
LEGAL_FORM_WEIGHTS = [0.66, 0.16, 0.13, 0.05]
TRADE_FALLBACK = ["科技", "实业", "工贸", "制造"]

TYPO_REPLACEMENTS = {"有限公司": ["有限公", "有线公司", "有限公斯"], "科技": ["科枝", "科记"]}


def pick_brand(rng: np.random.Generator) -> str:
    return "".join(rng.choice(BRAND_CHARS, 2))


def registered_name(region: str, brand: str, trade: str, legal_form: str, bracket_region: bool) -> str:
    if bracket_region and region:
        return f"{brand}{trade}（{region}）{legal_form}"
    return f"{region}{brand}{trade}{legal_form}"


def short_name(brand: str, trade: str) -> str:
    """What reports and invoices use: the brand plus the start of the trade words (丞达新材)."""
    return brand + trade[:2]


def variant(name: str, kind: str, rng: np.random.Generator, *, brand: str, trade: str, city: str,
            former: str | None) -> str:
    """One written form of ``name`` of the given kind (falls back to the exact name when impossible)."""
    if kind == "short":
        return short_name(brand, trade) if rng.random() < 0.7 else brand + trade
    if kind == "former" and former:
        return former
    if kind == "legal_form":
        for a, b in (("有限责任公司", "有限公司"), ("股份有限公司", "有限公司"), ("有限公司", "有限责任公司")):
            if name.endswith(a):
                return name[: -len(a)] + b
        return name
    if kind == "bracket":
        if "（" in name:
            return name.replace("（", "(").replace("）", ")")
        return name.replace(city, f"（{city}）", 1) if name.startswith(city) else name + " "
    if kind == "branch":
        branch_city = city if rng.random() < 0.3 else CITIES[int(rng.integers(len(CITIES)))][1]
        return f"{name}{branch_city}分公司"
    if kind == "homophone":
        swappable = [i for i, ch in enumerate(brand) if ch in HOMOPHONES]
        if swappable:
            i = swappable[int(rng.integers(len(swappable)))]
            return name.replace(brand, brand[:i] + HOMOPHONES[brand[i]] + brand[i + 1:], 1)
        return name
    if kind == "typo":
        for word, typos in TYPO_REPLACEMENTS.items():
            if word in name and rng.random() < 0.5:
                return name.replace(word, typos[int(rng.integers(len(typos)))], 1)
        if len(brand) == 2:  # transposed brand characters
            return name.replace(brand, brand[::-1], 1)
        return name
    if kind == "spacing":
        return name.replace(brand, brand + " ", 1)
    return name
