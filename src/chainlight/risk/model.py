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
        self.features: list[str] = list(card.features)

    def predict_pd(self, frame: pd.DataFrame) -> Any:
        return self.card.predict_pd(frame)

    def score(self, frame: pd.DataFrame) -> Any:
        return self.card.score(frame)

    def contributions(self, frame: pd.DataFrame) -> list[list[tuple[str, float]]]:
        reasons = self.card.reasons(frame, top=len(self.features))
        return [[(str(f), float(v)) for f, v in row] for row in _rows(reasons)]


def _rows(reasons: Any) -> list[list[tuple[str, float]]]:
    """The scorecard's reasons as (feature, points) lists, whatever container it returns them in."""
    if isinstance(reasons, pd.DataFrame):
        return [list(r.items()) for r in reasons.to_dict("records")]
    out = []
    for row in reasons:
        if isinstance(row, dict):
            out.append(list(row.items()))
        else:
            out.append([(getattr(r, "feature", r[0] if isinstance(r, tuple | list) else r),
                         getattr(r, "points", r[1] if isinstance(r, tuple | list) else 0.0)) for r in row])
    return out


def fit_card(frame: pd.DataFrame, label: str, features: list[str], categorical: list[str], seed: int) -> ScorecardCard:
    from chainlight.risk.scorecard import Scorecard
    card = Scorecard.fit(frame, label, True, features=features, categorical=[c for c in categorical if c in features],
                         seed=seed)
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
