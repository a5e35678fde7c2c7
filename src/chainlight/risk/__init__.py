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

The stage runs on any engine: the feature rows, the test PDs and their AUC, the snapshot and the decisions
stay in the engine (temp tables, ``map_batches`` with the fitted cards shipped to the function, batch.py);
only the training rows come to this process, where the scorecards fit, bounded by ``risk.train_max_rows``.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa

from chainlight import tables
from chainlight.config import Config
from chainlight.engine.base import check_identifier, quote_identifier, stable_bucket
from chainlight.errors import InputError
from chainlight.risk import audit, batch, claims, decide, features
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


#: Risk runs on every engine: features, test PDs, the snapshot and the decisions stay in the engine; only a
#: bounded training sample (``risk.train_max_rows``) comes to this process to fit the scorecards.
ENGINE_NEEDS: frozenset[str] = frozenset()

OBS, HISTORY, SNAPSHOT_OBS, SNAPSHOT = "_risk_outcomes", "_risk_history", "_risk_snapshot_obs", "_risk_snapshot"
LABELLED, BACKTEST, DECISIONS = "_risk_labelled", "_risk_backtest", "_risk_decisions"
BACKTEST_SCHEMA = pa.schema([("uscc", pa.string()), ("observed_at", pa.date32()), (LABEL, pa.bool_()),
                             ("pd", pa.float64()), ("pd_traditional", pa.float64())])


def _auc(ws: Workspace, table: str, score: str) -> float | None:
    """ROC AUC of ``score`` against the label over ``table``, in SQL: the Mann-Whitney statistic with tied
    scores ranked at their mean (what ``roc_auc_score`` computes), summed as integers, so both engines give
    the same figure without bringing the rows here."""
    row = ws.engine.query(f"""
        WITH v AS (SELECT {score} AS s, count(*) AS n, count(*) FILTER (WHERE {LABEL}) AS pos FROM {table} GROUP BY 1),
        r AS (SELECT n, pos, coalesce(sum(n) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                             AS below FROM v)
        SELECT sum(pos * (2 * below + n + 1)) AS twice_ranks, sum(pos) AS pos, sum(n) AS n FROM r""").to_pylist()[0]
    positives, total = int(row["pos"] or 0), int(row["n"] or 0)
    if not 0 < positives < total:
        return None
    wins = int(row["twice_ranks"]) - positives * (positives + 1)  # twice the Mann-Whitney U
    return round(wins / (2 * positives * (total - positives)), 6)


def _ontology_version(cfg: Config) -> str:
    from chainlight import ontology
    return str(ontology.load(cfg.ontology).version)


def test_pds(batch: pa.RecordBatch, *, cards: dict[str, tuple[Any, list[str]]]) -> pa.Table:
    """A batch of labelled test rows → (uscc, observed_at, label, pd, pd_traditional), each view's card shipped
    to the function (it runs where the rows are)."""
    frame = features.frame_of_rows(batch)
    pds = {name: np.asarray(card.predict_pd(decide.model_frame(frame, columns)), dtype=float).round(decide.PD_DIGITS)
           for name, (card, columns) in cards.items()}
    return pa.table({"uscc": batch.column("uscc"), "observed_at": batch.column("as_of"), LABEL: batch.column(LABEL),
                     "pd": pds["chain"], "pd_traditional": pds["traditional"]})


def _training_rows(ws: Workspace, settings: Any, cutoff: date, columns: list[str]) -> tuple[Any, int, int]:
    """(the training frame, training rows, test rows): every training row in (uscc, as_of) order, or a stable
    hash sample of about ``risk.train_max_rows`` of them when there are more; only the key, the label and
    ``columns`` (what the scorecards read), since these rows are the one table that comes to this process."""
    counts = ws.engine.query(f"SELECT count(*) FILTER (WHERE as_of < $cutoff) AS train, "
                             f"count(*) FILTER (WHERE as_of >= $cutoff) AS test, "
                             f"count(DISTINCT {LABEL}) FILTER (WHERE as_of < $cutoff) AS classes FROM {LABELLED}",
                             {"cutoff": cutoff}).to_pylist()[0]
    train_rows, test_rows = int(counts["train"] or 0), int(counts["test"] or 0)
    if not train_rows or not test_rows or int(counts["classes"] or 0) < 2:
        raise InputError(f"the time split at {cutoff} leaves no training or no test rows (or one class only)",
                         field="risk.train_before")
    sample, params = "", {"cutoff": cutoff}
    if train_rows > settings.train_max_rows:
        sample = " AND " + stable_bucket("uscc || '|' || CAST(as_of AS VARCHAR)", 65536) + " < $keep"
        params["keep"] = max(1, 65536 * settings.train_max_rows // train_rows)
    wanted = ", ".join(quote_identifier(c) for c in ["uscc", "as_of", LABEL, *columns])
    frame = features.frame_of_rows(ws.engine.query(
        f"SELECT {wanted} FROM {LABELLED} WHERE as_of < $cutoff{sample} ORDER BY uscc, as_of", params))
    log.info("risk: training on %d of %d rows", len(frame), train_rows)
    return frame, train_rows, test_rows


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
    engine = ws.engine
    verdicts = claims.build(ws)
    views = features.views(ws)
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {OBS} AS SELECT uscc, observed_at AS as_of, {LABEL} FROM outcomes "
                   "WHERE uscc IN (SELECT uscc FROM enterprises)")
    features.prepare(ws)  # the seller lines and invoice lines both builds read, once
    features.build(ws, cfg, OBS, verdicts, HISTORY)
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {LABELLED} AS SELECT f.*, CAST(o.{LABEL} AS BOOLEAN) AS {LABEL} "
                   f"FROM {HISTORY} f JOIN {OBS} o ON o.uscc = f.uscc AND o.as_of = f.as_of")
    train, train_rows, test_rows = _training_rows(ws, settings, cutoff, views.chain)

    models_dir = ws.root / "risk" / "models"
    fitted: dict[str, Any] = {}
    for name, columns in (("chain", views.chain), ("traditional", views.traditional)):
        card = fit_card(train, LABEL, columns, views.categorical, cfg.seed)
        model_hash, _ = save_card(card, models_dir)
        fitted[name] = (card, model_hash, columns)
    del train
    engine.map_batches(BACKTEST, f"SELECT * FROM {LABELLED} WHERE as_of >= $cutoff",
                       partial(test_pds, cards={n: (c, cols) for n, (c, _, cols) in fitted.items()}),
                       BACKTEST_SCHEMA, params={"cutoff": cutoff})
    aucs = {"chain": _auc(ws, BACKTEST, "pd"), "traditional": _auc(ws, BACKTEST, "pd_traditional")}

    snapshot_date = engine.scalar("SELECT max(issue_date) FROM invoices") or engine.scalar(f"SELECT max(as_of) FROM {OBS}")
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {SNAPSHOT_OBS} AS SELECT uscc, CAST($d AS DATE) AS as_of "
                   "FROM enterprises", {"d": snapshot_date})
    features.build(ws, cfg, SNAPSHOT_OBS, verdicts, SNAPSHOT)
    ontology_version = _ontology_version(cfg)

    with ws.stage("risk") as writer:
        writer.write_sql("claim_verdicts", f"SELECT * FROM {verdicts} ORDER BY claim_id")
        writer.write_sql("risk_features", f"SELECT * FROM {SNAPSHOT} ORDER BY uscc")
        writer.write_arrow("risk_models", pa.table({
            "view": list(fitted), "model_hash": [fitted[n][1] for n in fitted],
            "features": [",".join(fitted[n][2]) for n in fitted], "train_rows": [train_rows] * 2,
            "test_rows": [test_rows] * 2, "train_before": pa.array([cutoff] * 2, pa.date32()),
            "auc_test": [aucs[n] for n in fitted], "as_of": pa.array([snapshot_date] * 2, pa.date32()),
            "ontology_version": [ontology_version] * 2, "policy_hash": [policy.hash] * 2}))
        writer.write_sql("risk_backtest", f"SELECT uscc, observed_at, {LABEL}, pd, pd_traditional FROM {BACKTEST} "
                                          "ORDER BY uscc, observed_at")
        versions = {"policy": policy.version, "policy_hash": policy.hash, "model_hash": fitted["chain"][1],
                    "model_traditional_hash": fitted["traditional"][1], "ontology": ontology_version,
                    "run_id": writer.run_id, "features_as_of": str(snapshot_date)}
        made = {n: decide.View(n, c, h, list(cols)) for n, (c, h, cols) in fitted.items()}
        batch.decide_all(ws, DECISIONS, SNAPSHOT, batch.applicant_evidence(ws, verdicts), policy, made, versions,
                         settings.reason_count)
        decided = writer.write_sql("decisions", f"SELECT * FROM {DECISIONS} ORDER BY application_id")
        approved = int(engine.scalar(f"SELECT count(*) FROM {DECISIONS} WHERE decision = 'approve'") or 0)
        claim_count = int(engine.scalar(f"SELECT count(*) FROM {verdicts}") or 0)
        writer.stats.update({"auc_test": aucs, "train_rows": train_rows, "test_rows": test_rows,
                             "claims": claim_count, "decisions": decided, "approved": approved})
    digest = _decisions_digest(ws)
    audit.append(ws, "batch", {"run_id": writer.run_id, "decisions": decided, "decisions_hash": digest,
                               "versions": {k: v for k, v in versions.items() if k != "run_id"}}, {})
    return StageResult("risk", writer.run_id, dict(writer.counts), dict(writer.stats))


#: Decimal places of each number column in the decisions' hash: the digits a decision carries (money in cents,
#: PDs and scores as ``decide`` rounds them), few enough that both engines spell a DOUBLE's decimal alike.
DIGEST_DIGITS = {"requested_amount": 2, "amount": 2, "amount_traditional": 2, "pd": decide.PD_DIGITS,
                 "pd_traditional": decide.PD_DIGITS, "score": decide.SCORE_DIGITS}


def _decisions_digest(ws: Workspace, table: str = "decisions") -> str:
    """The audit's hash of the published decisions, computed where they live: each row's SHA-256 over its
    columns as text (present values prefixed, numbers at ``DIGEST_DIGITS``), the row hashes joined in order
    within 4,096 buckets of their first hex digits and hashed per bucket; ``audit.digest`` of the bucket hashes.
    Only the bucket hashes reach this process, and any changed, added or removed row changes the digest."""
    row = " || chr(31) || ".join(
        f"coalesce('v' || CAST(CAST({c} AS DECIMAL(38, {DIGEST_DIGITS[c]})) AS VARCHAR), 'n')" if c in DIGEST_DIGITS
        else f"coalesce('v' || {c}, 'n')" for c in batch.decisions_schema().names)
    buckets = ws.engine.query(f"""
        SELECT substr(h, 1, 3) AS bucket, sha256(string_agg(h, '' ORDER BY h)) AS hash
        FROM (SELECT sha256({row}) AS h FROM {check_identifier(table)}) rows GROUP BY substr(h, 1, 3) ORDER BY bucket""")
    return audit.digest([[r["bucket"], r["hash"]] for r in buckets.to_pylist()])
