"""Decisions: the batch path (``decisions`` over ``applications``) and the online path (``DecisionService``).

``DecisionService.load`` reads everything a decision needs into memory once — the firms' features as
of the latest data, both views' scorecards and their scores, the chain evidence (path to an anchor,
key customers, claim flags) and the policy — so ``decide`` touches no disk except the audit append.
Both paths call the same pure ``compose`` (policy tables → PD band → credit line → reasons), so a
decision replayed from its audit entry's recorded inputs (``audit.replay``) is the logged one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.risk import audit, line
from chainlight.risk import policy as policy_module
from chainlight.risk.evidence import Evidence
from chainlight.risk.features import CATEGORICAL, reason_text
from chainlight.risk.model import Card, load_card
from chainlight.workspace import Workspace

PD_DIGITS, SCORE_DIGITS, POINT_DIGITS = 8, 4, 4


class Reason(BaseModel):
    code: str
    text_en: str
    text_zh: str
    direction: Literal["adverse", "favourable"]
    contribution: float


class Decision(BaseModel):
    application_id: str
    uscc: str
    decision: Literal["approve", "decline", "refer"]
    requested_amount: float
    amount: float
    pd: float | None
    score: float | None
    reasons: list[Reason]
    evidence: dict[str, Any]
    versions: dict[str, str]
    audit_entry_id: int
    decided_at: str


@dataclass
class Scored:
    pd: float
    score: float
    contributions: list[tuple[str, float]]  # (feature, signed points), largest magnitude first


class ScoreTable:
    """Every firm's PD, score and point contributions as arrays; a ``Scored`` is made on demand."""

    def __init__(self, card: Card, frame: pd.DataFrame, ids: list[str]) -> None:
        pd_, score, points = card.score_all(frame)
        self.index = {u: i for i, u in enumerate(ids)}
        self.pd = np.round(pd_, PD_DIGITS)
        self.score = np.round(score, SCORE_DIGITS)
        self.points = np.round(points, POINT_DIGITS)
        self.names = list(card.features)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, uscc: str) -> Scored:
        row = self.index[uscc]
        return Scored(float(self.pd[row]), float(self.score[row]),
                      list(zip(self.names, self.points[row].tolist(), strict=True)))


def score_frame(card: Card, frame: pd.DataFrame) -> list[Scored]:
    """PD, score and signed point contributions per row, rounded so batch and single rows agree."""
    table = ScoreTable(card, frame, [str(i) for i in range(len(frame))])
    return [table[str(i)] for i in range(len(frame))]


def model_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The card's columns with the types the card was fitted on (categories as text, numbers as float)."""
    out = frame[columns].copy()
    for column in columns:
        out[column] = out[column].astype(str) if column in CATEGORICAL else \
            pd.to_numeric(out[column], errors="coerce").astype(float)
    return out


def frame_of(features: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(features, columns=columns)
    for column in CATEGORICAL:
        if column in frame:
            frame[column] = frame[column].astype(str)
    for column in frame.columns:
        if column not in CATEGORICAL:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _reason(code: str, en: str, zh: str, direction: str, contribution: float) -> dict[str, Any]:
    """One reason as the plain dict ``Reason(...).model_dump()`` gives (built directly: this is the hot path
    of every decision, and a test keeps it equal to the validated model)."""
    return {"code": code, "text_en": en, "text_zh": zh, "direction": direction, "contribution": float(contribution)}


def _model_reasons(contributions: list[tuple[str, float]], count: int) -> list[dict[str, Any]]:
    adverse = sorted((c for c in contributions if c[1] < 0), key=lambda c: (c[1], c[0]))[:count]
    favourable = sorted((c for c in contributions if c[1] > 0), key=lambda c: (-c[1], c[0]))[:count]
    out = []
    for feature, points in adverse + favourable:
        en, zh = reason_text(feature, points > 0)
        out.append(_reason(f"M_{feature.upper()}", en, zh, "favourable" if points > 0 else "adverse", points))
    return out


def compose(policy: policy_module.Policy, inputs: dict[str, Any], scored: Scored) -> dict[str, Any]:
    """The decision fields from recorded inputs and the model's output: pure and deterministic."""
    values = inputs["values"]
    hard = policy.evaluate("hard_rules", values)
    band = policy.evaluate("pd_bands", {"pd": scored.pd})
    outcome = policy_module.worst(hard + band)
    factors = policy.evaluate("line_factors", values)
    offer = line.credit_line(policy.limits, values.get("verified_turnover"), scored.pd, factors)
    reasons: list[dict[str, Any]] = []
    for fired in hard + band:
        if fired.outcome in ("refer", "decline"):
            rule = policy.rules[fired.rule]
            reasons.append(_reason(fired.code, rule.reason.en, rule.reason.zh, "adverse", -1.0))
    if outcome == "approve" and offer.limit < policy.limits.min_line:
        outcome = "refer"
        reasons.append(_reason(line.TOO_SMALL.code, line.TOO_SMALL.en, line.TOO_SMALL.zh, "adverse", -1.0))
    for fired in factors:
        rule = policy.rules[fired.rule]
        assert fired.factor is not None
        reasons.append(_reason(fired.code, rule.reason.en, rule.reason.zh,
                               "favourable" if fired.factor >= 1 else "adverse", round(fired.factor - 1.0, 6)))
    reasons += _model_reasons(scored.contributions, int(inputs.get("reason_count", 3)))
    reasons.sort(key=lambda r: r["direction"] != "adverse")  # stable: adverse first, each in its own order
    requested = float(inputs["requested_amount"])
    amount = min(requested, offer.limit) if outcome == "approve" else 0.0
    evidence = {**inputs["evidence"], "line": offer.as_dict(),
                "trace": [f.model_dump(mode="json") for f in hard + band + factors],
                "view": inputs.get("view", "chain")}
    return {"application_id": inputs["application_id"], "uscc": inputs["uscc"], "decision": outcome,
            "requested_amount": requested, "amount": float(amount), "pd": scored.pd, "score": scored.score,
            "reasons": reasons, "evidence": evidence, "versions": dict(inputs["versions"])}


CHAIN_VALUES = ("verified_turnover", "hops_to_anchor", "anchor_bound_share", "patents_granted", "top_customer_share")
POLICY_FIELDS = {"blacklisted", "tax_arrears", "max_overdue_days", "open_litigations", "age_years", "pd", *CHAIN_VALUES}


def load_policy(path: Path | None) -> policy_module.Policy:
    """The configured policy, checked against the inputs the engine gives it."""
    policy = policy_module.load(path)
    policy_module.check_fields(policy, POLICY_FIELDS)
    return policy


def policy_values(features: dict[str, Any], view: str) -> dict[str, Any]:
    """The inputs the policy tests. The traditional view verifies no turnover and sees no chain."""
    def flag(name: str) -> bool:
        return bool(features.get(name) or 0)
    values: dict[str, Any] = {
        "blacklisted": flag("blacklisted"), "tax_arrears": flag("tax_arrears"),
        "max_overdue_days": features.get("max_overdue_days"), "open_litigations": features.get("open_litigations"),
        "age_years": features.get("age_years")}
    if view == "chain":
        values.update({k: features.get(k) for k in CHAIN_VALUES})
    else:
        values["verified_turnover"] = 0.0
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


@dataclass
class View:
    name: str
    card: Card
    model_hash: str
    features: list[str]
    scored: ScoreTable | None = None


def _store(root: Path, kind: str) -> Path:
    folder = root / "risk" / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_policy(ws: Workspace | Path, policy: policy_module.Policy) -> Path:
    """Keep the policy text under its hash, so a replay finds the exact rules a decision used."""
    root = ws if isinstance(ws, Path) else ws.root
    path = _store(root, "policies") / f"{policy.hash}.yaml"
    if not path.exists():
        path.write_text(policy.text, encoding="utf-8")
    return path


def policy_by_hash(ws: Workspace, policy_hash: str) -> policy_module.Policy:
    path = ws.root / "risk" / "policies" / f"{policy_hash}.yaml"
    if not path.exists():
        raise InputError(f"policy {policy_hash} is not stored in this workspace", file=str(path))
    return policy_module.parse(path.read_text(encoding="utf-8"), str(path))


def model_path(ws: Workspace | Path, model_hash: str) -> Path:
    root = ws if isinstance(ws, Path) else ws.root
    return _store(root, "models") / f"{model_hash}.card"


class DecisionService:
    """Online decisions from memory; each ``decide`` appends one audit entry."""

    def __init__(self, ws: Workspace, policy: policy_module.Policy, views: dict[str, View],
                 features: dict[str, dict[str, Any]], evidence: Evidence,
                 versions: dict[str, str], reason_count: int = 3) -> None:
        self.ws, self.policy, self.views = ws, policy, views
        self.features, self.evidence, self.versions = features, evidence, versions
        self.reason_count = reason_count
        self.durable = True

    @classmethod
    def from_parts(cls, ws: Workspace, policy: policy_module.Policy, fitted: dict[str, tuple[Card, str, list[str]]],
                   frame: pd.DataFrame, evidence: Evidence, versions: dict[str, str], reason_count: int = 3
                   ) -> DecisionService:
        """Score every firm of ``frame`` with each view's card once; keep it all in memory."""
        ids = frame["uscc"].tolist()
        views: dict[str, View] = {}
        for name, (card, model_hash, columns) in fitted.items():
            view = View(name, card, model_hash, list(columns))
            view.scored = ScoreTable(card, model_frame(frame, columns), ids)
            views[name] = view
        all_columns = sorted({c for v in views.values() for c in v.features})
        features = dict(zip(ids, _records(frame, all_columns), strict=True))
        return cls(ws, policy, views, features, evidence, versions, reason_count)

    @classmethod
    def load(cls, ws: Workspace, cfg: Config) -> DecisionService:
        from chainlight.risk.evidence import load as load_evidence
        if not ws.table_exists("risk_models") or not ws.table_exists("risk_features"):
            raise InputError("the risk stage has not run in this workspace (run `chainlight run --stage risk`)",
                             file=str(ws.root))
        policy = load_policy(cfg.risk.policy)
        save_policy(ws, policy)
        models = {r["view"]: r for r in ws.engine.query("SELECT * FROM risk_models").to_pylist()}
        frame = ws.engine.query("SELECT * FROM risk_features ORDER BY uscc").to_pandas()
        fitted: dict[str, tuple[Card, str, list[str]]] = {
            name: (load_card(model_path(ws, meta["model_hash"])), meta["model_hash"], meta["features"].split(","))
            for name, meta in models.items()}
        meta = models["chain"]
        run_id = ws.engine.scalar("SELECT any_value(run_id) FROM risk_models")
        versions = {"policy": policy.version, "policy_hash": policy.hash, "model_hash": meta["model_hash"],
                    "model_traditional_hash": models["traditional"]["model_hash"],
                    "ontology": meta["ontology_version"], "run_id": str(run_id), "features_as_of": str(meta["as_of"])}
        service = cls.from_parts(ws, policy, fitted, frame, load_evidence(ws), versions, cfg.risk.reason_count)
        service.durable = cfg.risk.audit_fsync
        return service

    def compose_view(self, uscc: str, amount: float, application_id: str, view: str
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(decision fields, recorded inputs) of one view, without touching the audit log."""
        uscc = uscc.strip().upper()
        chosen = self.views[view]
        features = self.features.get(uscc)
        inputs = recorded_inputs(application_id, uscc, amount, view, chosen, features,
                                 self.evidence.get(uscc) if view == "chain" else {}, self.versions, self.reason_count)
        assert chosen.scored is not None
        return compose(self.policy, inputs, chosen.scored[uscc]), inputs

    def decide(self, uscc: str, amount: float, application_id: str | None = None) -> Decision:
        return Decision(**self.decide_record(uscc, amount, application_id))

    def decide_record(self, uscc: str, amount: float, application_id: str | None = None) -> dict[str, Any]:
        """``decide`` as the plain dict ``Decision.model_dump()`` gives, without validating it again: the
        service's hot path (compose builds every field with its type; a test keeps the two equal)."""
        fields, inputs = self._online(uscc, amount, application_id)
        entry = audit.append(self.ws, "decision", inputs, fields, durable=self.durable)
        return {**fields, "audit_entry_id": entry["id"], "decided_at": entry["at"]}

    async def decide_record_async(self, uscc: str, amount: float, application_id: str | None = None
                                  ) -> dict[str, Any]:
        """``decide_record`` on an event loop: composed and written at once, then awaited until durable
        (concurrent decisions share flushes without a thread each)."""
        fields, inputs = self._online(uscc, amount, application_id)
        entry = await audit.append_async(self.ws, "decision", inputs, fields, durable=self.durable)
        return {**fields, "audit_entry_id": entry["id"], "decided_at": entry["at"]}

    def _online(self, uscc: str, amount: float, application_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        application_id = application_id or f"online-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
        return self.compose_view(uscc, amount, application_id, "chain")

    def traditional(self, uscc: str, amount: float, application_id: str = "comparison") -> Decision:
        """What the registry + bureau view alone would decide (a comparison; not a decision, not audited)."""
        fields, _ = self.compose_view(uscc, amount, application_id, "traditional")
        return Decision(**fields, audit_entry_id=0, decided_at="")


def recorded_inputs(application_id: str, uscc: str, amount: float, view: str, chosen: View,
                    features: dict[str, Any] | None, evidence: dict[str, Any], versions: dict[str, str],
                    reason_count: int) -> dict[str, Any]:
    """What one view's decision is made from (and what the audit records): the online service and the batch
    build it here, so a batch decision is the one the service would make."""
    if features is None:
        raise InputError(f"unknown enterprise {uscc!r} (not in this workspace's registry)", field="uscc")
    if not (isinstance(amount, int | float) and amount > 0 and math.isfinite(amount)):
        raise InputError(f"requested amount must be a positive number of yuan, not {amount!r}", field="amount")
    return {"application_id": application_id, "uscc": uscc, "requested_amount": float(amount), "view": view,
            "reason_count": reason_count, "features": {k: features[k] for k in chosen.features},
            "values": policy_values(features, view), "evidence": evidence,
            "versions": {**versions, "model_hash": chosen.model_hash}}


def unknown_firm(application_id: str, uscc: str, amount: float, why: str, versions: dict[str, str]) -> dict[str, Any]:
    """A batch application whose firm is not in the registry: referred, saying why."""
    return {"application_id": application_id, "uscc": uscc, "decision": "refer", "requested_amount": float(amount),
            "amount": 0.0, "pd": None, "score": None,
            "reasons": [{"code": "UNKNOWN_FIRM", "text_en": "The applicant is not in the registry.",
                         "text_zh": "申请企业不在登记名录中。", "direction": "adverse", "contribution": -1.0}],
            "evidence": {"error": why}, "versions": dict(versions)}


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    out = []
    for record in frame[columns].to_dict("records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v))
                    for k, v in record.items()})
    return out


def replay_entry(ws: Workspace, entry: dict[str, Any]) -> Decision:
    """Recompute a decision from an audit entry's recorded inputs with the versions it names."""
    if entry.get("kind") != "decision":
        raise InputError(f"audit entry {entry.get('id')} is a {entry.get('kind')} entry, not a decision")
    inputs = entry["inputs"]
    policy = policy_by_hash(ws, inputs["versions"]["policy_hash"])
    card = load_card(model_path(ws, inputs["versions"]["model_hash"]))
    columns = list(inputs["features"])
    scored = score_frame(card, frame_of([inputs["features"]], columns))[0]
    fields = compose(policy, inputs, scored)
    return Decision(**fields, audit_entry_id=entry["id"], decided_at=entry["at"])
