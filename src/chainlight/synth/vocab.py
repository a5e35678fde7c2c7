"""The blind profile's vocabulary: what the stages see, and what only the generator writes.

Every segment's terms are split, from the seed, into a *seen* part and a *held-out* part. Per product,
its name and synonyms are shuffled (by a generator seeded with the seed and the product name) and about
half of them held out; the first seen form becomes the product's name in the seen ontology. Scope terms
are split the same way per segment. The seen ontology is written next to the inputs (``ontology.yaml``)
and is what ``chainlight demo --profile blind`` loads; the held-out forms plus the curated terms of
``vocabulary.yaml`` (terms the default ontology never had: trade names, grades, abbreviations) are
what the generator writes in about half of the item names, product texts, patent titles and report
phrases. So a stage scores on blind only through what it generalises, not through a shared word list.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from chainlight.ontology.model import Ontology, Product, normalise_term

HELD_OUT_SHARE = 0.5  # share of item names, product texts, patent titles and report phrases in held-out terms


@dataclass(frozen=True)
class SegmentWords:
    """One segment's words for the blind generator."""

    seen: list[str]  # product forms the stages know
    held_out: list[str]  # product forms they do not: split-off forms plus curated terms
    seen_scope: list[str]
    held_out_scope: list[str]
    tax_short: str  # 税收分类简称 printed between asterisks
    units: list[str]


@dataclass(frozen=True)
class Vocabulary:
    seen: Ontology
    segments: dict[str, SegmentWords]
    specs: dict[str, list[str]]
    noise_items: list[tuple[str, str, str]]  # (tax short name, item, tax code): lines that name no segment

    def held_out_terms(self) -> set[str]:
        return {t for words in self.segments.values() for t in words.held_out + words.held_out_scope}

    def pick(self, segment_id: str, rng: np.random.Generator, favourite: int | None = None) -> str:
        """A product term for a text about the segment: held out about half of the time."""
        words = self.segments[segment_id]
        pool = words.held_out if rng.random() < HELD_OUT_SHARE else words.seen
        index = favourite if favourite is not None and rng.random() < 0.75 else int(rng.integers(len(pool)))
        return pool[index % len(pool)]


@cache
def curated() -> dict[str, Any]:
    """``vocabulary.yaml``: tax short names, units, spec suffixes, non-product lines, held-out terms."""
    text = (resources.files("chainlight.synth") / "vocabulary.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _split(forms: list[str], seed: int, key: str) -> tuple[list[str], list[str]]:
    """(seen, held out) in their original order; about half held out, at least one form seen."""
    if len(forms) < 2:
        return forms, []
    rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
    held_count = len(forms) // 2 if len(forms) % 2 == 0 else len(forms) // 2 + int(rng.random() < 0.5)
    held_count = min(held_count, len(forms) - 1)
    held = set(rng.permutation(len(forms))[:held_count].tolist())
    return [f for i, f in enumerate(forms) if i not in held], [f for i, f in enumerate(forms) if i in held]


def build(ontology: Ontology, seed: int) -> Vocabulary:
    """Split ``ontology`` from ``seed``; the seen part is a valid ontology of the same segments and edges."""
    data = curated()
    seen = ontology.model_copy(deep=True)
    seen.version = f"{ontology.version}+blind{seed}"
    known = {normalise_term(t) for s in ontology.segments().values()
             for t in [*s.scope_terms, *(f for p in s.products for f in [p.name, *p.synonyms])]}
    words: dict[str, SegmentWords] = {}
    for chain in seen.chains:
        for segment in chain.segments:
            seen_forms: list[str] = []
            held_forms: list[str] = []
            products: list[Product] = []
            for product in segment.products:
                kept, held = _split([product.name, *product.synonyms], seed, f"product:{product.name}")
                products.append(product.model_copy(update={"name": kept[0], "synonyms": kept[1:]}))
                seen_forms += kept
                held_forms += held
            segment.products = products
            scope_seen, scope_held = _split(segment.scope_terms, seed, f"scope:{segment.id}")
            segment.scope_terms = scope_seen
            entry = data["segments"][segment.id]
            extra = [t for t in entry["terms"] if normalise_term(t) not in known]
            words[segment.id] = SegmentWords(seen_forms, held_forms + extra, scope_seen, scope_held or extra[:2],
                                             entry["tax"], list(entry["unit"]))
    # a term held out in one list but still seen in another (a product that is also a scope term) is seen
    still_seen = {normalise_term(t) for w in words.values() for t in w.seen + w.seen_scope}
    for segment_id, w in words.items():
        words[segment_id] = replace(w, held_out=[t for t in w.held_out if normalise_term(t) not in still_seen],
                                    held_out_scope=[t for t in w.held_out_scope if normalise_term(t) not in still_seen])
    return Vocabulary(seen, words, {k: list(v) for k, v in data["specs"].items()},
                      [(str(a), str(b), str(c)) for a, b, c in data["noise_items"]])


def write_seen(vocabulary: Vocabulary, path: Path) -> None:
    """The seen ontology as one YAML file ``chainlight.ontology.model.load_file`` reads."""
    data = vocabulary.seen.model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
