"""Label listed companies with their Shenwan level-3 industry from what they make and what they are called.

This is mounting on real data: with the ontology built from ``chain_kg`` (``chainlight ontology build``),
segments are Shenwan level-3 industries, and a company is placed on one from its main products (the
revenue breakdown of its annual report) and its names — never from its own company→industry label.

The model, chosen by 5-fold cross-validation on the labelled companies (``bench/real_chain_kg.py``):

- products: character 1–3-gram TF-IDF of each product name, averaged over the company's products
  weighted by √(revenue share) (the main line counts most, but a long tail of small lines still says
  what the firm is; plain shares and uniform weights both did worse);
- names: character 1–2-grams of the short name and of the registered name without its legal form
  (股份有限公司, 集团, …), weighted 0.7 against the products;
- three linear SVMs, one per Shenwan level; a level-3 industry scores its own margin plus its level-2
  and level-1 parents' margins, so a rare level-3 class borrows the evidence of its siblings;
- plus how much of the (√-weighted) product list names the industry itself (``锂电池`` in 锂电池),
  which helps the level-3 classes with one or two labelled companies;
- a company without a product list (17%, mostly 2020–21 listings) gets a names-only model's scores plus
  the joint model's reading of its registered name's core as its one product (+3.7 points at level 3
  on those companies: the product vocabulary is far larger than the names').

What did not help (same CV, all within ±0.01 of the above): exact product-name tokens, the products'
sub/super-categories (产品小类) or upstream materials (上游材料) as extra text, word (jieba) tokens,
stock-code prefixes, logistic regression, a k-nearest-neighbour vote, per-product instances.
Only about a third of the companies reach another company through a material link, so the chain
relations cannot carry the labels far on this data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import KFold
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from chainlight.errors import InputError
from chainlight.ontology.build import Industries, clean_name, read_records
from chainlight.resolve.normalise import normalise

EXCHANGE_SUFFIX = {"上海证券交易所": "SH", "深圳证券交易所": "SZ", "北京证券交易所": "BJ"}
MIN_PRODUCT_WEIGHT = 0.01  # a listed product with a zero or negative share (a loss) is still made
_LEGAL_FORM = re.compile(r"股份有限公司|有限责任公司|有限公司|股份公司|集团|控股|[(（][^)）]*[)）]")
_LEVEL_MARK = re.compile(r"[ⅡⅢ]$")


@dataclass(frozen=True)
class Company:
    code: str  # 600373.SH
    short_name: str = ""
    full_name: str = ""
    products: tuple[tuple[str, float], ...] = ()  # (product name, revenue share), largest share first


def stock_code(code: str, exchange: str = "") -> str:
    """``600373`` + 上海证券交易所 → ``600373.SH``; the exchange is guessed from the code when unknown."""
    code = code.strip().upper()
    if "." in code:
        return code
    suffix = EXCHANGE_SUFFIX.get(exchange.strip())
    if suffix is None:
        suffix = "SH" if code[:1] in "69" else "BJ" if code[:1] in "48" else "SZ"
    return f"{code}.{suffix}"


@dataclass
class ChainKG:
    """The companies, their labels and the Shenwan hierarchy of a ``chain_kg`` folder."""

    industries: Industries
    companies: dict[str, Company]
    labels: dict[str, str]  # company code -> level-3 industry code
    labelled: set[str] = field(default_factory=set)  # codes with any label, usable or not

    @classmethod
    def load(cls, folder: Path) -> ChainKG:
        folder = Path(folder)
        for name in ("company.jsonl", "company_industry.jsonl", "company_product.jsonl", "industry.jsonl"):
            if not (folder / name).is_file():
                raise InputError("missing chain_kg file", file=str(folder / name))
        industries = Industries(folder)
        names: dict[str, tuple[str, str]] = {}
        for record in read_records(folder, "company.jsonl"):
            code = stock_code(str(record.need("code")), str(record.get("location") or ""))
            short, full = str(record.get("name") or ""), str(record.get("fullname") or "")
            if code in names:  # a renamed company is listed twice; keep both names unless one is unrelated
                short, full = _merge_names(names[code], (short, full))
            names[code] = (short, full)
        labels: dict[str, str] = {}
        labelled: set[str] = set()
        for record in read_records(folder, "company_industry.jsonl"):
            code = stock_code(str(record.need("company_code")))
            labelled.add(code)
            names.setdefault(code, (str(record.get("company_name") or ""), ""))
            industry = industries.resolve(str(record.get("industry_code") or ""), str(record.get("industry_name") or ""))
            if industry:
                labels[code] = industry
        shares: dict[str, dict[str, float]] = {}
        for record in read_records(folder, "company_product.jsonl"):
            code = stock_code(str(record.need("company_code")))
            product = clean_name(record.need("product_name"))
            if not product:
                continue
            weight = record.get("rel_weight")
            share = min(max(float(weight), MIN_PRODUCT_WEIGHT), 1.0) if isinstance(weight, int | float) else MIN_PRODUCT_WEIGHT
            own = shares.setdefault(code, {})
            own[product] = max(own.get(product, 0.0), share)
            if code not in names:
                names[code] = (str(record.get("company_name") or ""), "")
        companies = {
            code: Company(code, short, full, tuple(sorted(shares.get(code, {}).items(), key=lambda item: (-item[1], item[0]))))
            for code, (short, full) in sorted(names.items())
        }
        return cls(industries, companies, labels, labelled)

    def unlabelled(self) -> list[Company]:
        return [company for code, company in self.companies.items() if code not in self.labelled]

    def labelled_companies(self) -> tuple[list[Company], list[str]]:
        codes = [code for code in self.companies if code in self.labels]
        return [self.companies[code] for code in codes], [self.labels[code] for code in codes]


def _merge_names(first: tuple[str, str], second: tuple[str, str]) -> tuple[str, str]:
    """Both short names, and every full name that shares a character with a short name: the data gives
    some codes a second, unrelated company's full name (龙软科技 as 中国中铁股份有限公司)."""
    shorts = " ".join(dict.fromkeys(n for n in (first[0], second[0]) if n))
    fulls = [n for n in dict.fromkeys(first[1].split(" ") + second[1].split(" ")) if n and set(n) & set(shorts)]
    return shorts, " ".join(fulls)


def _name_text(company: Company) -> str:
    """Short and registered names without the legal form; places are kept (the resolver's normaliser drops
    them, and they carry signal here: 1.9 points at level 1 on firms without products)."""
    return f"{company.short_name} {_LEGAL_FORM.sub('', company.full_name)}".strip()


def _name_core(company: Company) -> str:
    """The registered name without legal form and places (邵阳维克液压股份有限公司 → 维克液压), by the resolver's
    own name normaliser."""
    return normalise(company.full_name.split(" ")[0]).core or company.short_name or company.code


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _incidence(rows: list[list[int]], width: int) -> sp.csr_matrix:
    """A 0/1 matrix with a one at (row, column) for every column listed in that row."""
    row_ids = [r for r, columns in enumerate(rows) for _ in columns]
    column_ids = [c for columns in rows for c in columns]
    return sp.csr_matrix((np.ones(len(row_ids)), (row_ids, column_ids)), shape=(len(rows), width))


class IndustryClassifier:
    """Products and names → Shenwan level-3 scores; ``use_products=False`` is the name-only baseline."""

    def __init__(self, industries: Industries, *, use_products: bool = True, name_weight: float = 0.7,
                 regularisation: float = 0.3, industry_name_weight: float = 1.0, seed: int = 0) -> None:
        self.industries = industries
        self.seed = seed  # the SVMs' random_state: the same data gives the same model
        self.use_products = use_products
        self.name_weight = name_weight
        self.regularisation = regularisation
        self.industry_name_weight = industry_name_weight

    def fit(self, companies: Sequence[Company], labels: Sequence[str]) -> IndustryClassifier:
        if len(companies) != len(labels) or not companies:
            raise ValueError("need as many labels as companies, and at least one")
        self.classes_ = np.array(sorted(set(labels)))
        self._name_vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        self._name_vectoriser.fit([_name_text(c) for c in companies])
        if self.use_products:
            self._product_vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
            self._product_vectoriser.fit(sorted({name for c in companies for name, _ in c.products}) or [""])
        features = self._features(companies, *self._product_mix(companies))
        self._levels = []
        for level_of in (lambda code: code, self.industries.level2_of, self.industries.level1_of):
            level_labels = np.array([level_of(code) for code in labels])
            model = LinearSVC(C=self.regularisation, random_state=self.seed) if len(set(level_labels)) > 1 else None
            if model is not None:
                model.fit(features, level_labels)
            # column of each level-3 class in this level's margins
            parents = np.array([level_of(code) for code in self.classes_])
            self._levels.append((model, parents, level_labels[0]))
        self._industry_names = [_LEVEL_MARK.sub("", self.industries.name.get(code, "")) for code in self.classes_]
        # A company with no product list is scored by a names-only model (the joint model, trained mostly
        # on companies with products, leans on product features and does worse on names alone), plus the
        # joint model reading the core of its registered name as its one product.
        self._names_only = IndustryClassifier(self.industries, use_products=False, name_weight=self.name_weight,
                                              regularisation=self.regularisation, seed=self.seed).fit(companies, labels) \
            if self.use_products else None
        return self

    @staticmethod
    def _product_mix(companies: Sequence[Company]) -> tuple[sp.csr_matrix, list[str]]:
        """Companies × distinct product names, each row the √(revenue share) weights summing to 1."""
        vocabulary = sorted({name for c in companies for name, _ in c.products})
        index = {name: i for i, name in enumerate(vocabulary)}
        rows, cols, weights = [], [], []
        for row, company in enumerate(companies):
            for name, share in company.products:
                rows.append(row)
                cols.append(index[name])
                weights.append(np.sqrt(share))
        mix = sp.csr_matrix((weights, (rows, cols)), shape=(len(companies), len(vocabulary)))
        return (normalize(mix, norm="l1") if vocabulary else mix), vocabulary

    def _features(self, companies: Sequence[Company], mix: sp.csr_matrix, vocabulary: list[str]) -> sp.csr_matrix:
        names = self.name_weight * normalize(self._name_vectoriser.transform([_name_text(c) for c in companies]))
        if not self.use_products:
            return sp.csr_matrix(names)
        if vocabulary:
            products = normalize(mix @ self._product_vectoriser.transform(vocabulary))
        else:
            products = sp.csr_matrix((len(companies), len(self._product_vectoriser.vocabulary_)))
        return sp.hstack([products, names]).tocsr()

    def _names_industry(self, mix: sp.csr_matrix, vocabulary: list[str]) -> sp.csr_matrix:
        """Share of each company's products that name the industry: 1 if the product contains the name,
        1/2 if it holds half of the name's character pairs (single-character names: the character)."""
        if not self.use_products or not vocabulary:
            return sp.csr_matrix(mix.shape[:1] + (len(self.classes_),))
        names = self._industry_names
        gram_index: dict[str, int] = {}
        name_lists = [[gram_index.setdefault(g, len(gram_index)) for g in (_bigrams(n) if len(n) > 1 else {n} - {""})]
                      for n in names]
        product_lists = [[gram_index[g] for g in _bigrams(p) | set(p) if g in gram_index] for p in vocabulary]
        name_grams = _incidence(name_lists, len(gram_index))
        product_grams = _incidence(product_lists, len(gram_index))
        shared = (product_grams @ name_grams.T).tocoo()
        sizes = np.asarray(name_grams.sum(axis=1)).ravel()
        credit = np.where([names[c] in vocabulary[r] for r, c in zip(shared.row, shared.col, strict=True)], 1.0,
                          np.where(shared.data * 2 >= sizes[shared.col], 0.5, 0.0))
        match = sp.csr_matrix((credit, (shared.row, shared.col)), shape=(len(vocabulary), len(names)))
        return (mix @ match).tocsr()

    def scores(self, companies: Sequence[Company]) -> np.ndarray:
        """One row per company, one column per level-3 class (``classes_``); higher is likelier."""
        mix, vocabulary = self._product_mix(companies)
        features = self._features(companies, mix, vocabulary)
        total = self.industry_name_weight * self._names_industry(mix, vocabulary).toarray()
        for model, parents, only_label in self._levels:
            if model is None:  # one class at this level: every company is in it
                total += (parents == only_label)[None, :].astype(float)
                continue
            margins = model.decision_function(features)
            if margins.ndim == 1:  # two classes: sklearn gives the second class's margin only
                margins = np.column_stack([-margins, margins])
            total += margins[:, np.searchsorted(model.classes_, parents)]
        rows = [row for row, company in enumerate(companies) if not company.products]
        if self._names_only is not None and rows:
            without_products = [companies[row] for row in rows]
            names_only = self._names_only.scores(without_products)
            # the name's core read as a product (邵阳维克液压 → 液压 products) by the joint model
            as_product = self.scores([replace(c, products=((_name_core(c), 1.0),)) for c in without_products])
            total[rows] = names_only[:, np.searchsorted(self._names_only.classes_, self.classes_)] + as_product
        return total

    def top(self, companies: Sequence[Company], k: int = 3) -> list[list[str]]:
        order = np.argsort(-self.scores(companies), axis=1, kind="stable")[:, :k]
        return [[str(code) for code in self.classes_[row]] for row in order]


@dataclass(frozen=True)
class Accuracy:
    companies: int
    top1_level3: float
    top3_level3: float
    top1_level1: float


def _accuracy(tops: list[list[str]], truth: list[str], industries: Industries) -> Accuracy:
    if not truth:
        return Accuracy(0, float("nan"), float("nan"), float("nan"))
    n = len(truth)
    return Accuracy(
        n,
        sum(top[0] == true for top, true in zip(tops, truth, strict=True)) / n,
        sum(true in top[:3] for top, true in zip(tops, truth, strict=True)) / n,
        sum(industries.level1_of(top[0]) == industries.level1_of(true) for top, true in zip(tops, truth, strict=True)) / n,
    )


def out_of_fold_top(kg: ChainKG, companies: Sequence[Company], *, folds: int = 5, seed: int = 0,
                    use_products: bool = True) -> list[list[str]]:
    """Each labelled company's three likeliest industries from a model fitted on the other folds only,
    so its own label is never seen."""
    if len(companies) < folds:
        raise ValueError(f"cross-validation needs at least {folds} labelled companies, got {len(companies)}")
    labels = [kg.labels[c.code] for c in companies]
    tops: list[list[str]] = [[] for _ in companies]
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(companies))):
        model = IndustryClassifier(kg.industries, use_products=use_products, seed=seed)
        model.fit([companies[i] for i in train], [labels[i] for i in train])
        for i, top in zip(test, model.top([companies[i] for i in test]), strict=True):
            tops[i] = top
    return tops


def cross_validate(kg: ChainKG, *, folds: int = 5, seed: int = 0, use_products: bool = True,
                   companies: Sequence[Company] | None = None) -> dict[str, Accuracy]:
    """k-fold accuracy over the labelled companies (or a sample of them): ``all``, ``with_products``,
    ``without_products``."""
    if companies is None:
        companies = kg.labelled_companies()[0]
    tops = out_of_fold_top(kg, companies, folds=folds, seed=seed, use_products=use_products)
    subsets = {"all": lambda c: True, "with_products": lambda c: bool(c.products),
               "without_products": lambda c: not c.products}
    return {
        subset: _accuracy([t for t, c in zip(tops, companies, strict=True) if keep(c)],
                          [kg.labels[c.code] for c in companies if keep(c)], kg.industries)
        for subset, keep in subsets.items()
    }


def label_unlabelled(kg: ChainKG, *, seed: int = 0) -> list[tuple[str, list[str]]]:
    """(company code, its three likeliest level-3 industries) for every company without a label."""
    companies, labels = kg.labelled_companies()
    targets = kg.unlabelled()
    if not targets:
        return []
    model = IndustryClassifier(kg.industries, seed=seed).fit(companies, labels)
    return [(company.code, top) for company, top in zip(targets, model.top(targets), strict=True)]


def write_labels(rows: list[tuple[str, list[str]]], path: Path) -> None:
    """``company_code,top1_industry_code,top3_industry_codes`` (top 3 joined by ``|``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["company_code", "top1_industry_code", "top3_industry_codes"])
        for code, top in rows:
            writer.writerow([code, top[0], "|".join(top[:3])])
