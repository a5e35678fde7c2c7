"""The scoring model behind a view: a thin adapter over ``risk.scorecard`` (binning, WOE, points).

Everything the decision path needs from a card is here — PD, score, signed point contributions per
feature — plus storing a card under the hash of its saved bytes, which is the model version every
decision records.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from chainlight.errors import InputError


class Card(Protocol):
    features: list[str]

    def predict_pd(self, frame: pd.DataFrame) -> Any: ...
    def score_all(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class ScorecardCard:
    """Wraps a fitted ``Scorecard`` in the ``Card`` protocol."""

    def __init__(self, card: Any) -> None:
        self.card = card
        self.features: list[str] = [f.name for f in card.features]

    def predict_pd(self, frame: pd.DataFrame) -> Any:
        return self.card.predict_pd(frame)

    def score_all(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """PD, score and each feature's points minus its training-average points (rows × features;
        negative = adverse), binning every feature once. The score is summed in the card's own order,
        so it equals ``Scorecard.score`` bit for bit."""
        indices = self.card.bin_indices(frame)
        points = [np.asarray(f.points_of(indices[f.name]), dtype=np.float64) for f in self.card.features]
        score = np.full(len(frame), self.card.base_score, dtype=np.float64)
        for column in points:
            score += column
        neutral = np.array([f.neutral_points for f in self.card.features], dtype=np.float64)
        matrix = np.column_stack(points) - neutral if points else np.zeros((len(frame), 0))
        return self.card.pd_of_score(score), score, matrix


# Credit signals on a chain are many and individually weak (IV 0.002–0.02 each); the usual 0.02 floor
# would keep only the bureau, so the floor is low and the regression's sign check prunes the rest.
MIN_IV = 0.002


def fit_card(frame: pd.DataFrame, label: str, features: list[str], categorical: list[str], seed: int) -> ScorecardCard:
    from chainlight.risk.scorecard import Scorecard
    card = Scorecard.fit(frame, label, True, features=features, categorical=[c for c in categorical if c in features],
                         seed=seed, min_iv=MIN_IV)
    return ScorecardCard(card)


def save_card(card: ScorecardCard, folder: Path) -> tuple[str, Path]:
    """Save, hash the saved bytes, and keep the card as ``<hash>.card`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "model.card"
        card.card.save(path)
        model_hash = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        final = folder / f"{model_hash}.card"
        if not final.exists():
            shutil.move(str(path), final)
    return model_hash, final


def load_card(path: Path) -> ScorecardCard:
    if not path.exists():
        raise InputError("model file is missing from the workspace", file=str(path))
    from chainlight.risk.scorecard import Scorecard
    return ScorecardCard(Scorecard.load(path))
