"""Text → chain segment, from the ontology alone: a lexicon, code prefixes and a character n-gram model.

``SegmentLexicon`` finds product names and synonyms (longest match wins) and scope terms in text,
maps tax-category codes and IPC codes by prefix, and GB/T 4754 industry codes exactly. For text with
no lexicon term, ``SegmentTextModel`` (character 1–3-gram TF-IDF + logistic regression, trained on
the ontology's own terms and descriptions) gives a probability per segment. Both work with any
ontology (the default chains or one built from real data).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

import ahocorasick
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from chainlight.ontology.model import Ontology

Distribution = dict[str, float]


def _normalised(scores: dict[str, float]) -> Distribution:
    total = sum(scores.values())
    return {k: v / total for k, v in scores.items()} if total > 0 else {}


@dataclass(frozen=True)
class Hit:
    term: str
    segments: tuple[str, ...]
    start: int


class SegmentLexicon:
    def __init__(self, ontology: Ontology) -> None:
        self.products: dict[str, set[str]] = defaultdict(set)
        self.scope: dict[str, set[str]] = defaultdict(set)
        self.tax: dict[str, set[str]] = defaultdict(set)
        self.ipc: dict[str, set[str]] = defaultdict(set)
        self.industry: dict[str, set[str]] = defaultdict(set)
        for segment in ontology.segments().values():
            for product in segment.products:
                for term in (product.name, *product.synonyms):
                    self.products[term.upper()].add(segment.id)
            for term in segment.scope_terms:
                self.scope[term].add(segment.id)
            for code in segment.tax_codes:
                self.tax[code].add(segment.id)
            for code in segment.ipc:
                self.ipc[code.upper()].add(segment.id)
            for code in segment.industry_codes:
                self.industry[code].add(segment.id)
        self._products = self._automaton(self.products)
        self._scope = self._automaton(self.scope)

    @staticmethod
    def _automaton(terms: dict[str, set[str]]) -> ahocorasick.Automaton:
        automaton = ahocorasick.Automaton()
        for term in terms:
            automaton.add_word(term, term)
        automaton.make_automaton()
        return automaton

    def _hits(self, text: str, automaton: ahocorasick.Automaton, terms: dict[str, set[str]]) -> list[Hit]:
        if not text or not len(automaton):
            return []
        found = sorted(((end - len(term) + 1, term) for end, term in automaton.iter(text.upper())),
                       key=lambda h: (h[0], -len(h[1])))
        hits: list[Hit] = []
        covered = -1
        for start, term in found:  # longest match at each place, no overlaps
            if start > covered:
                hits.append(Hit(term, tuple(sorted(terms[term])), start))
                covered = start + len(term) - 1
        return hits

    def product_hits(self, text: str) -> list[Hit]:
        return self._hits(text, self._products, self.products)

    def scope_hits(self, text: str) -> list[Hit]:
        return self._hits(text, self._scope, self.scope)

    @staticmethod
    def _prefixed(code: str, table: dict[str, set[str]]) -> set[str]:
        code = (code or "").strip().upper()
        return {s for prefix, segments in table.items() if code.startswith(prefix) for s in segments}

    def tax_segments(self, code: str) -> set[str]:
        return self._prefixed(code, self.tax)

    def ipc_segments(self, code: str) -> set[str]:
        return self._prefixed(code.replace(" ", ""), self.ipc)

    def industry_segments(self, code: str) -> set[str]:
        code = (code or "").strip().upper().lstrip("ABCDEFGHIJKLMNOPQRST")
        return set(self.industry.get(code, set()))


class SegmentTextModel:
    """Character n-gram logistic regression over the ontology's own words, for text no term matches.

    Fitted on first use: with a real ontology (hundreds of segments, tens of thousands of terms) the fit
    takes minutes, and a run whose every text matches a lexicon term never needs it. ``seed`` (the
    configuration's ``seed``) fixes the solver's sampling order: without it the probabilities follow
    the process-wide random state and reruns differ."""

    def __init__(self, ontology: Ontology, seed: int) -> None:
        self.ontology = ontology
        self.seed = seed

    @cached_property
    def _fitted(self) -> tuple[TfidfVectorizer, LogisticRegression]:
        texts, labels = [], []
        for segment in self.ontology.segments().values():
            samples = [segment.name, *segment.scope_terms]
            for product in segment.products:
                samples += [product.name, *product.synonyms]
                if product.description:
                    samples.append(product.description)
            texts += samples
            labels += [segment.id] * len(samples)
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        # saga, not lbfgs (5 min on a real ontology)
        model = LogisticRegression(C=20.0, solver="saga", tol=1e-3, max_iter=100, random_state=self.seed)
        model.fit(vectorizer.fit_transform(texts), labels)
        return vectorizer, model

    @cached_property
    def classes(self) -> list[str]:
        return [str(c) for c in self._fitted[1].classes_]

    def predict(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.ontology.segments())))
        vectorizer, model = self._fitted
        return model.predict_proba(vectorizer.transform(texts))


def classify_texts(texts: list[str], lexicon: SegmentLexicon, model: SegmentTextModel,
                   min_probability: float = 0.35) -> list[tuple[Distribution, str]]:
    """Per text: a segment distribution and how it was found (``lexicon``, ``model`` or ``none``)."""
    out: list[tuple[Distribution, str]] = [({}, "none")] * len(texts)
    unmatched = []
    for i, text in enumerate(texts):
        hits = lexicon.product_hits(text)
        if hits:
            scores: dict[str, float] = defaultdict(float)
            for hit in hits:
                for segment in hit.segments:
                    scores[segment] += len(hit.term) / len(hit.segments)
            out[i] = (_normalised(scores), "lexicon")
        else:
            unmatched.append(i)
    probabilities = model.predict([texts[i] for i in unmatched])
    for row, i in enumerate(unmatched):
        best = int(np.argmax(probabilities[row]))
        if probabilities[row][best] >= min_probability:
            out[i] = ({model.classes[best]: float(probabilities[row][best])}, "model")
    return out
