"""The scorecard's model report: one self-contained HTML file a model validator can read offline.

Binning table per feature (counts, bad rate, WOE, IV, points), the points table, the score
distribution of goods and bads, ROC and KS plots (inline SVG from matplotlib: no scripts, no
network), calibration checks, the LightGBM challenger beside the card's cross-validated AUC, and
PSI per feature when scoring data is given.
"""

from __future__ import annotations

import html
import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chainlight.risk.scorecard import Evaluation, Scorecard, labelled, psi_of_counts

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:right}th{background:#f4f4f4}
td.text,th.text{text-align:left;max-width:420px}.plots{display:flex;flex-wrap:wrap;gap:1rem}
.plots figure{margin:0}.note{color:#555;font-size:.85rem}
"""


def _svg(fig: Any) -> str:
    """A matplotlib figure as inline SVG text (no date, fixed ids: the same data gives the same bytes)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)
    return text


def _figure(width: float = 4.6, height: float = 3.4) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "chainlight", "svg.fonttype": "none", "font.size": 9})
    return plt.subplots(figsize=(width, height))


def roc_svg(y: np.ndarray, pd_: np.ndarray, auc: float) -> str:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, pd_)
    fig, ax = _figure()
    ax.plot(fpr, tpr, color="#1f5fa8", label=f"scorecard (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=0.8)
    ax.set(xlabel="false positive rate (goods flagged)", ylabel="true positive rate (bads caught)", title="ROC")
    ax.legend(loc="lower right")
    return _svg(fig)


def ks_svg(y: np.ndarray, score: np.ndarray) -> str:
    order = np.argsort(score, kind="stable")
    s, yy = score[order], y[order]
    cum_bad = np.cumsum(yy) / max(yy.sum(), 1)
    cum_good = np.cumsum(1 - yy) / max((1 - yy).sum(), 1)
    gap = np.abs(cum_bad - cum_good)
    at = int(np.argmax(gap))
    fig, ax = _figure()
    ax.plot(s, cum_bad, color="#b3261e", label="bads (cumulative)")
    ax.plot(s, cum_good, color="#1f7a3a", label="goods (cumulative)")
    ax.vlines(s[at], cum_good[at], cum_bad[at], color="#222", linestyle=":", label=f"KS {gap[at]:.3f} at {s[at]:.0f}")
    ax.set(xlabel="score (points)", ylabel="share", title="KS")
    ax.legend(loc="lower right")
    return _svg(fig)


def distribution_svg(y: np.ndarray, score: np.ndarray, other: np.ndarray | None = None) -> str:
    edges = np.histogram_bin_edges(score if other is None else np.concatenate([score, other]), bins=30)
    fig, ax = _figure(6.0, 3.4)
    ax.hist(score[y == 0], bins=edges, alpha=0.6, color="#1f7a3a", label="training goods", density=True)
    ax.hist(score[y == 1], bins=edges, alpha=0.6, color="#b3261e", label="training bads", density=True)
    if other is not None:
        ax.hist(other, bins=edges, histtype="step", color="#1f5fa8", linewidth=1.5, label="scoring data", density=True)
    ax.set(xlabel="score (points)", ylabel="density", title="score distribution")
    ax.legend()
    return _svg(fig)


def calibration_svg(y: np.ndarray, pd_: np.ndarray, bins: int = 10) -> str:
    order = np.argsort(pd_, kind="stable")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    predicted = [float(pd_[c].mean()) for c in chunks]
    observed = [float(y[c].mean()) for c in chunks]
    fig, ax = _figure()
    top = max(max(predicted), max(observed)) * 1.05
    ax.plot([0, top], [0, top], color="#999", linestyle="--", linewidth=0.8)
    ax.plot(predicted, observed, marker="o", color="#1f5fa8")
    ax.set(xlabel="mean predicted PD (decile)", ylabel="observed bad rate", title="reliability (training)")
    return _svg(fig)


def _table(frame: pd.DataFrame, text_columns: tuple[str, ...] = ("bin", "feature", "kind", "model", "check")) -> str:
    head = "".join(f'<th class="{"text" if c in text_columns else ""}">{html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            cls = ' class="text"' if column in text_columns else ""
            cells.append(f"<td{cls}>{html.escape(_fmt(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        return f"{value:.4f}"
    return str(value)


def _anchor(name: str) -> str:
    return "feature-" + "".join(c if c.isalnum() else "-" for c in name)


def render(card: Scorecard, train_frame: pd.DataFrame, *, score_frame: pd.DataFrame | None = None,
           cv: Evaluation | None = None, challenger: Evaluation | None = None) -> str:
    """The whole report as one HTML string."""
    y, train_frame = labelled(train_frame, card.label, card.bad_value)
    score = card.score(train_frame)
    pd_ = card.pd_of_score(score)
    t = card.training
    s = card.scaling
    parts = [f"<h1>Scorecard model report — {html.escape(card.label)} (bad = {html.escape(str(card.bad_value))})</h1>",
             f'<p class="note">card version <code>{card.version}</code>; {t.get("rows", len(y)):,} training rows, '
             f'{t.get("bads", int(y.sum())):,} bad; points: {s.base_points:g} at good:bad odds {s.base_odds:g}:1, '
             f'{s.pdo:g} points to double the odds; seed {card.seed}.</p>']

    summary = [{"check": "training AUC", "value": t.get("auc")}, {"check": "training KS", "value": t.get("ks")}]
    for key in ("oof_auc", "oof_brier_raw", "oof_brier_calibrated", "oof_ece_raw", "oof_ece_calibrated"):
        if key in t:
            summary.append({"check": key.replace("_", " "), "value": t[key]})
    summary.append({"check": "calibration", "value": t.get("calibration", "")})
    parts += ["<h2>Summary</h2>", _table(pd.DataFrame(summary), ("check", "value"))]

    models = []
    if cv is not None:
        models.append({"model": "scorecard (refitted per fold)", "mean AUC": cv.mean_auc,
                       "fold AUCs": " ".join(f"{a:.4f}" for a in cv.fold_aucs)})
    if challenger is not None:
        models.append({"model": "LightGBM challenger (reported, never deciding)", "mean AUC": challenger.mean_auc,
                       "fold AUCs": " ".join(f"{a:.4f}" for a in challenger.fold_aucs)})
    if models:
        parts += [f"<h2>Cross-validation ({len((cv or challenger).fold_aucs)} stratified folds, seed {card.seed})</h2>",  # type: ignore[union-attr]
                  _table(pd.DataFrame(models), ("model", "fold AUCs"))]

    parts += ["<h2>Performance</h2>", '<div class="plots">',
              f"<figure>{roc_svg(y, pd_, float(t.get('auc', 0.0)))}</figure>", f"<figure>{ks_svg(y, score)}</figure>",
              f"<figure>{calibration_svg(y, pd_)}</figure>",
              f"<figure>{distribution_svg(y, score, card.score(score_frame) if score_frame is not None else None)}</figure>",
              "</div>"]

    if score_frame is not None:
        psi = card.psi(train_frame, score_frame)
        edges = np.unique(np.quantile(score, np.linspace(0, 1, 11)))
        expected = np.histogram(score, bins=edges)[0].astype(np.float64)
        actual = np.histogram(np.clip(card.score(score_frame), edges[0], edges[-1]), bins=edges)[0].astype(np.float64)
        score_psi = psi_of_counts(expected, actual)
        rows = [{"feature": "(score, training deciles)", "PSI": score_psi, "reading": _psi_word(score_psi)}]
        rows += [{"feature": name, "PSI": value, "reading": _psi_word(value)} for name, value in psi.items()]
        parts += [f"<h2>Population stability ({len(score_frame):,} scoring rows)</h2>",
                  '<p class="note">PSI over the card\'s bins: below 0.1 stable, 0.1–0.25 shifting, above 0.25 shifted.</p>',
                  _table(pd.DataFrame(rows), ("feature", "reading"))]

    ivs = pd.DataFrame([{"feature": f.name, "kind": f.kind, "IV": f.iv, "coefficient": f.coefficient,
                         "bins": f.n_regular} for f in card.features])
    parts += ["<h2>Features in the card</h2>", _table(ivs)]
    if card.dropped:
        parts += ["<h3>Left out</h3>", _table(pd.DataFrame([{"feature": k, "check": v} for k, v in card.dropped.items()]))]

    parts += ["<h2>Points table</h2>",
              '<p class="note">A row\'s score is the base points plus the points of each feature\'s bin.</p>',
              _table(card.points_table())]

    parts.append("<h2>Binning tables</h2>")
    for f in card.features:
        trend = f" — monotonic trend {html.escape(f.monotonic_trend)}" if f.monotonic_trend else ""
        parts += [f'<h3 id="{_anchor(f.name)}">{html.escape(f.name)} ({f.kind}, IV {f.iv:.4f}){trend}</h3>',
                  _table(card.binning_table(f.name))]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Scorecard report {card.version}</title>'
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _psi_word(value: float) -> str:
    return "stable" if value < 0.1 else ("shifting" if value < 0.25 else "shifted")


def report_path(card_path: Path) -> Path:
    """The report sits beside the card: ``card.json`` → ``card.html``."""
    return card_path.with_suffix(".html") if card_path.suffix.lower() != ".html" else card_path.with_suffix(".report.html")


def write_report(card: Scorecard, path: Path, train_frame: pd.DataFrame, **extras: Any) -> Path:
    path.write_text(render(card, train_frame, **extras), encoding="utf-8")
    return path
