"""Stage ``risk``: the gatekeeper — policy rules, scorecards, cross-checked claims, credit lines, audit.

Reads ``enterprises``, ``bureau``, ``invoices``, ``patents``, ``reports``, ``outcomes`` (labels) and
``applications``; ``entity_links`` (resolve), ``facts`` (extract), ``mounts`` (mount),
``supply_edges`` and ``graph_features`` (graph) and, when the expert stage has run,
``operating_scores`` (without it the chain view simply lacks the operating score; every other
feature is unchanged). The policy is ``risk.policy`` (default: risk/policy/default.yaml).

Writes:
- ``claim_verdicts``: every model-made claim about a firm, supported / contradicted / unverifiable,
  with evidence ids (claims.py, sql/claims.sql);
- ``risk_features``: each firm's features as of the latest invoice date (the online path's input);
- ``risk_models``: the chain and traditional scorecards (hash, features, time-split test figures);
- ``risk_backtest``: the test rows (later observations) with both views' PDs, for ``eval``;
- ``decisions``: one decision per application (batch), with the traditional view's beside it.
It appends one ``batch`` entry to the audit log (audit.py) naming the decisions' hash.

Training uses a time split: outcomes observed before ``risk.train_before`` fit the scorecards and
later ones test them; features are computed as of each observation date (features.py says which
inputs are snapshots).
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from chainlight import tables
from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.risk import audit, claims, decide, features
from chainlight.risk.evidence import load as load_evidence
from chainlight.risk.model import fit_card, save_card
from chainlight.workspace import StageResult, Workspace

log = logging.getLogger(__name__)
LABEL = "defaulted_12m"

_c = tables.Column
tables.register(tables.TableSpec("claim_verdicts", "risk", (
    _c("claim_id", "VARCHAR"), _c("uscc", "VARCHAR"), _c("kind", "VARCHAR"), _c("object", "VARCHAR"),
    _c("source", "VARCHAR"), _c("source_id", "VARCHAR"), _c("start", "BIGINT"), _c("end", "BIGINT"),
    _c("span_text", "VARCHAR"), _c("source_date", "DATE"), _c("verdict", "VARCHAR"), _c("evidence_ids", "VARCHAR[]"),
    _c("detail", "VARCHAR")), key=("claim_id",),
    description="Model-made claims about firms checked against invoices, patents and the registry."))
tables.register(tables.TableSpec("risk_features", "risk", (_c("uscc", "VARCHAR"), _c("as_of", "DATE")), key=("uscc",),
                                 description="Each firm's model features as of the latest invoice date."))
tables.register(tables.TableSpec("risk_models", "risk", (
    _c("view", "VARCHAR"), _c("model_hash", "VARCHAR"), _c("features", "VARCHAR"), _c("train_rows", "BIGINT"),
    _c("test_rows", "BIGINT"), _c("train_before", "DATE"), _c("auc_test", "DOUBLE"), _c("as_of", "DATE"),
    _c("ontology_version", "VARCHAR"), _c("policy_hash", "VARCHAR")), key=("view",),
    description="The scorecards in use: hash, features and time-split test AUC."))
tables.register(tables.TableSpec("risk_backtest", "risk", (
    _c("uscc", "VARCHAR"), _c("observed_at", "DATE"), _c(LABEL, "BOOLEAN"), _c("pd", "DOUBLE"),
    _c("pd_traditional", "DOUBLE")), key=("uscc", "observed_at"),
    description="Test rows of the time split with both views' PDs."))
tables.register(tables.TableSpec("decisions", "risk", (
    _c("application_id", "VARCHAR"), _c("uscc", "VARCHAR"), _c("decision", "VARCHAR"), _c("requested_amount", "DOUBLE"),
    _c("amount", "DOUBLE"), _c("pd", "DOUBLE"), _c("score", "DOUBLE"), _c("reasons", "VARCHAR"),
    _c("evidence", "VARCHAR"), _c("versions", "VARCHAR"), _c("inputs_hash", "VARCHAR"), _c("decided_at", "VARCHAR"),
    _c("decision_traditional", "VARCHAR"), _c("amount_traditional", "DOUBLE"), _c("pd_traditional", "DOUBLE")),
    key=("application_id",), description="One decision per application, with the traditional view's beside it."))


def _auc(label: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score
    return round(float(roc_auc_score(label, score)), 6) if 0 < label.sum() < len(label) else None


def _ontology_version(cfg: Config) -> str:
    from chainlight import ontology
    return str(ontology.load(cfg.ontology).version)


def run(ws: Workspace, cfg: Config) -> StageResult:
    settings = cfg.risk
    policy = decide.load_policy(settings.policy)
    decide.save_policy(ws, policy)
    try:
        cutoff = date.fromisoformat(settings.train_before)
    except ValueError as exc:
        raise InputError(f"not an ISO date: {settings.train_before!r}", field="risk.train_before") from exc
    if not ws.table_exists("outcomes") or not ws.row_count("outcomes"):
        raise InputError("the risk stage needs labelled outcomes to train its scorecards (load outcomes.*)",
                         field="outcomes")
    verdicts = claims.build(ws)
    views = features.views(ws)
    outcomes = ws.engine.query(f"SELECT uscc, observed_at AS as_of, {LABEL} FROM outcomes "
                               "WHERE uscc IN (SELECT uscc FROM enterprises) ORDER BY uscc, observed_at")
    frame = features.build(ws, cfg, outcomes, verdicts)
    labels = outcomes.to_pandas()
    frame = frame.merge(labels, on=["uscc", "as_of"], how="left", validate="one_to_one")
    frame[LABEL] = frame[LABEL].astype(bool)
    as_of_date = frame["as_of"].map(lambda d: d if isinstance(d, date) else d.date())
    train, test = frame[as_of_date < cutoff], frame[as_of_date >= cutoff]
    if train.empty or test.empty or train[LABEL].nunique() < 2:
        raise InputError(f"the time split at {cutoff} leaves no training or no test rows (or one class only)",
                         field="risk.train_before")

    models_dir = ws.root / "risk" / "models"
    fitted: dict[str, Any] = {}
    test_pd: dict[str, np.ndarray] = {}
    for name, columns in (("chain", views.chain), ("traditional", views.traditional)):
        card = fit_card(train, LABEL, columns, views.categorical, cfg.seed)
        model_hash, _ = save_card(card, models_dir)
        test_pd[name] = np.asarray(card.predict_pd(test[columns]), dtype=float).round(decide.PD_DIGITS)
        fitted[name] = (card, model_hash, columns)

    snapshot_date = ws.engine.scalar("SELECT max(issue_date) FROM invoices") or max(as_of_date)
    registry = ws.engine.query("SELECT uscc, CAST($d AS DATE) AS as_of FROM enterprises ORDER BY uscc", {"d": snapshot_date})
    snapshot = features.build(ws, cfg, registry, verdicts)
    ontology_version = _ontology_version(cfg)
    label = test[LABEL].to_numpy(dtype=int)
    aucs = {name: _auc(label, test_pd[name]) for name in fitted}

    with ws.stage("risk") as writer:
        writer.write_sql("claim_verdicts", f"SELECT * FROM {verdicts} ORDER BY claim_id")
        writer.write_arrow("risk_features", pa.Table.from_pandas(snapshot, preserve_index=False))
        writer.write_arrow("risk_models", pa.table({
            "view": list(fitted), "model_hash": [fitted[n][1] for n in fitted],
            "features": [",".join(fitted[n][2]) for n in fitted], "train_rows": [len(train)] * 2,
            "test_rows": [len(test)] * 2, "train_before": pa.array([cutoff] * 2, pa.date32()),
            "auc_test": [aucs[n] for n in fitted], "as_of": pa.array([snapshot_date] * 2, pa.date32()),
            "ontology_version": [ontology_version] * 2, "policy_hash": [policy.hash] * 2}))
        writer.write_arrow("risk_backtest", pa.table({
            "uscc": test["uscc"].tolist(), "observed_at": pa.array(test["as_of"].tolist(), pa.date32()),
            LABEL: test[LABEL].tolist(), "pd": test_pd["chain"], "pd_traditional": test_pd["traditional"]}))
        versions = {"policy": policy.version, "policy_hash": policy.hash, "model_hash": fitted["chain"][1],
                    "model_traditional_hash": fitted["traditional"][1], "ontology": ontology_version,
                    "run_id": writer.run_id, "features_as_of": str(snapshot_date)}
        service = decide.DecisionService.from_parts(
            ws, policy, {n: (c, h, cols) for n, (c, h, cols) in fitted.items()}, snapshot,
            load_evidence(ws, verdicts), versions, settings.reason_count)
        rows = _batch_decisions(ws, service)
        writer.write_arrow("decisions", rows)
        writer.stats.update({"auc_test": aucs, "train_rows": len(train), "test_rows": len(test),
                             "claims": int(ws.row_count(verdicts)), "decisions": rows.num_rows,
                             "approved": int(sum(d == "approve" for d in rows.column("decision").to_pylist()))})
    digest = audit.digest([[str(v) for v in r.values()] for r in rows.to_pylist()])
    audit.append(ws, "batch", {"run_id": writer.run_id, "decisions": rows.num_rows, "decisions_hash": digest,
                               "versions": {k: v for k, v in versions.items() if k != "run_id"}}, {})
    return StageResult("risk", writer.run_id, dict(writer.counts), dict(writer.stats))


def _batch_decisions(ws: Workspace, service: decide.DecisionService) -> pa.Table:
    """Every application, in id order; decided_at is the application's own time (deterministic)."""
    apps = ws.engine.query("SELECT application_id, uscc, amount, applied_at FROM applications ORDER BY application_id") \
        if ws.table_exists("applications") else pa.table({"application_id": [], "uscc": [], "amount": [], "applied_at": []})
    out: dict[str, list[Any]] = {c: [] for c in tables.get("decisions").column_names}  # type: ignore[union-attr]
    for app in apps.to_pylist():
        try:
            chain, inputs = service.compose_view(app["uscc"], app["amount"], app["application_id"], "chain")
            trad, _ = service.compose_view(app["uscc"], app["amount"], app["application_id"], "traditional")
        except InputError as exc:  # an applicant missing from the registry: referred, with the reason
            chain = trad = decide.unknown_firm(app["application_id"], app["uscc"], app["amount"], str(exc),
                                               service.versions)
            inputs = {"application_id": app["application_id"], "uscc": app["uscc"], "amount": app["amount"]}
        versions = {k: v for k, v in chain["versions"].items() if k != "run_id"}  # the row's run_id column has it
        out["application_id"].append(app["application_id"])
        out["uscc"].append(app["uscc"])
        out["decision"].append(chain["decision"])
        out["requested_amount"].append(chain["requested_amount"])
        out["amount"].append(chain["amount"])
        out["pd"].append(chain["pd"])
        out["score"].append(chain["score"])
        out["reasons"].append(json.dumps(chain["reasons"], ensure_ascii=False, sort_keys=True))
        out["evidence"].append(json.dumps(chain["evidence"], ensure_ascii=False, sort_keys=True))
        out["versions"].append(json.dumps(versions, sort_keys=True))
        out["inputs_hash"].append(audit.digest({k: v for k, v in inputs.items() if k != "versions"}))
        out["decided_at"].append(app["applied_at"].isoformat() if app["applied_at"] else "")
        out["decision_traditional"].append(trad["decision"])
        out["amount_traditional"].append(trad["amount"])
        out["pd_traditional"].append(trad["pd"])
    return pa.table({k: pa.array(v, pa.float64() if k in ("requested_amount", "amount", "pd", "score",
                                                           "amount_traditional", "pd_traditional") else pa.string())
                     for k, v in out.items()})
