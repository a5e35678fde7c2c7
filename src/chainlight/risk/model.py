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
    def predict_pd(self, frame: pd.DataFrame) -> Any: ...
    def score(self, frame: pd.DataFrame) -> Any: ...
    def contributions(self, frame: pd.DataFrame) -> list[list[tuple[str, float]]]: ...


class ScorecardCard:
    """Wraps a fitted ``Scorecard`` in the ``Card`` protocol."""

    def __init__(self, card: Any) -> None:
        self.card = card
        self.features: list[str] = [f.name for f in card.features]

    def predict_pd(self, frame: pd.DataFrame) -> Any:
        return self.card.predict_pd(frame)

    def score(self, frame: pd.DataFrame) -> Any:
        return self.card.score(frame)

    def contributions(self, frame: pd.DataFrame) -> list[list[tuple[str, float]]]:
        """Per row, each feature's points minus its training-average points (negative = adverse),
        vectorised over rows (the card's own ``reasons`` walks rows one by one)."""
        indices = self.card.bin_indices(frame)
        columns = [np.asarray(f.points_of(indices[f.name]), dtype=float) - f.neutral_points for f in self.card.features]
        if not columns:
            return [[] for _ in range(len(frame))]
        matrix = np.column_stack(columns)
        names = self.features
        return [list(zip(names, row.tolist(), strict=True)) for row in matrix]


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
