"""Batch decisions where the data lives: one ``map_batches`` over the applications joined in SQL with their
firm's feature row and chain evidence.

Each application is decided by the same ``recorded_inputs`` → ``compose`` the online ``DecisionService`` uses,
with the fitted cards, the policy and the versions shipped to the function (DuckDB runs it in process, Spark
on its executors), so a batch row is the decision the service would make for it. Nothing but the few
observation dates comes back to the driver.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pyarrow as pa

from chainlight import tables
from chainlight.engine.base import load_sql, render
from chainlight.errors import InputError
from chainlight.risk import audit, decide
from chainlight.risk.evidence import MAX_FLAGS, assemble
from chainlight.risk.policy import Policy
from chainlight.workspace import Workspace

APPLICANTS = "_risk_applicants"
EVIDENCE = "_risk_applicant_evidence"
MONEY = ("requested_amount", "amount", "pd", "score", "amount_traditional", "pd_traditional")


def decisions_schema() -> pa.Schema:
    spec = tables.get("decisions")
    assert spec is not None
    return pa.schema([(c, pa.float64() if c in MONEY else pa.string()) for c in spec.column_names])


def applicant_evidence(ws: Workspace, verdicts: str) -> str:
    """Temp table (uscc, path, customers, supported, contradicted) for every firm that applied: the walk
    towards an anchor as iterative joins (one step a round; each step is one hop closer, so at most the
    deepest hop count rounds), the rest as ordered lists."""
    engine = ws.engine
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {APPLICANTS} AS "
                   "SELECT DISTINCT upper(trim(uscc)) AS uscc FROM applications WHERE uscc IS NOT NULL")
    graph = ws.table_or_empty("graph_features")
    if ws.table_exists("supply_edges") and ws.table_exists("graph_features"):
        engine.execute("CREATE OR REPLACE TEMP TABLE _risk_evidence_rows AS " + load_sql("chainlight.risk", "evidence"))
        rounds = int(engine.scalar("SELECT coalesce(max(hops_to_anchor), 0) FROM graph_features") or 0)
    else:
        engine.execute("CREATE OR REPLACE TEMP TABLE _risk_evidence_rows AS SELECT CAST(NULL AS VARCHAR) AS kind, "
                       "CAST(NULL AS VARCHAR) AS uscc, CAST(NULL AS VARCHAR) AS other, CAST(NULL AS DOUBLE) AS amount, "
                       "CAST(NULL AS BIGINT) AS months_active, CAST(NULL AS BIGINT) AS k WHERE 1 = 0")
        rounds = 0
    engine.execute("CREATE OR REPLACE TEMP TABLE _risk_walk AS SELECT uscc AS start, 0 AS n, uscc AS node "
                   f"FROM {APPLICANTS}")
    engine.execute("CREATE OR REPLACE TEMP TABLE _risk_front AS SELECT * FROM _risk_walk")
    for _ in range(rounds):
        engine.execute("CREATE OR REPLACE TEMP TABLE _risk_next AS SELECT f.start, f.n + 1 AS n, r.other AS node "
                       "FROM _risk_front f JOIN _risk_evidence_rows r ON r.uscc = f.node AND r.kind = 'step'")
        if not engine.scalar("SELECT count(*) FROM _risk_next"):  # (row_count sees published tables only)
            break
        engine.execute("INSERT INTO _risk_walk SELECT start, n, node FROM _risk_next")
        engine.execute("CREATE OR REPLACE TEMP TABLE _risk_front AS SELECT * FROM _risk_next")
    sql = render(load_sql("chainlight.risk", "applicant_evidence"), {
        "walk": "_risk_walk", "rows": "_risk_evidence_rows", "applicants": APPLICANTS, "graph": graph,
        "verdicts": verdicts})
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {EVIDENCE} AS {sql}", {"max_flags": MAX_FLAGS})
    return EVIDENCE


def float_columns(ws: Workspace, table: str, columns: list[str]) -> frozenset[str]:
    """The integer columns of ``table`` with a NULL somewhere: the online service reads the snapshot through
    pandas, where such a column is float, so a batch decision records their values as floats too."""
    schema = ws.engine.query(f"SELECT * FROM {table} WHERE 1 = 0").schema
    ints = [c for c in columns if pa.types.is_integer(schema.field(c).type)]
    if not ints:
        return frozenset()
    counts = ws.engine.query("SELECT " + ", ".join(f"count(*) - count({c}) AS {c}" for c in ints) + f" FROM {table}")
    return frozenset(c for c in ints if counts.column(c)[0].as_py())


def decide_all(ws: Workspace, out: str, snapshot: str, evidence: str, policy: Policy, views: dict[str, decide.View],
           versions: dict[str, str], reason_count: int) -> str:
    """Temp table ``out`` (the ``decisions`` columns): every application decided by both views."""
    columns = sorted({c for v in views.values() for c in v.features})
    source = ws.table_or_empty("applications")
    fn = partial(decide_rows, policy=policy, views=views, versions=versions, reason_count=reason_count,
                 columns=columns, floats=float_columns(ws, snapshot, columns))
    selected = ", ".join(f"f.{c} AS f__{c}" for c in columns)
    ws.engine.map_batches(out, f"""
        SELECT a.application_id, a.uscc, a.amount, a.applied_at, f.uscc IS NOT NULL AS known__, {selected},
               e.path AS path__, e.customers AS customers__, e.supported AS supported__, e.contradicted AS contradicted__
        FROM {source} a LEFT JOIN {snapshot} f ON f.uscc = upper(trim(a.uscc))
        LEFT JOIN {evidence} e ON e.uscc = upper(trim(a.uscc))""", fn, decisions_schema())
    return out


def _value(value: Any, as_float: bool) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value) if as_float else value


def _moment(value: datetime | None) -> str:
    """The application's time as ISO text without a zone: DuckDB's TIMESTAMP is naive UTC, Spark's is an instant
    (read back in UTC), so both spell the same moment alike."""
    if value is None:
        return ""
    return (value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value).isoformat()


def decide_rows(batch: pa.RecordBatch, *, policy: Policy, views: dict[str, decide.View], versions: dict[str, str],
                reason_count: int, columns: list[str], floats: frozenset[str]) -> pa.Table:
    """A batch of applications with their firm's features and evidence → their ``decisions`` rows."""
    rows = batch.to_pylist()
    features = [{c: _value(r[f"f__{c}"], c in floats) for c in columns} if r["known__"] else None for r in rows]
    known = {str(i): f for i, f in enumerate(features) if f is not None}
    scored = {name: decide.ScoreTable(view.card, decide.frame_of(list(known.values()), view.features), list(known))
              for name, view in views.items()} if known else {}  # (no known firm in the batch: nothing to score)
    out: dict[str, list[Any]] = {f.name: [] for f in decisions_schema()}
    for i, app in enumerate(rows):
        uscc = (app["uscc"] or "").strip().upper()
        evidence = assemble(app["path__"] or [], app["customers__"] or [], app["supported__"] or [],
                            app["contradicted__"] or [])
        try:
            made = {}
            for name, view in views.items():
                inputs = decide.recorded_inputs(app["application_id"], uscc, app["amount"], name, view, features[i],
                                                evidence if name == "chain" else {}, versions, reason_count)
                made[name] = (decide.compose(policy, inputs, scored[name][str(i)]), inputs)
            (chain, inputs), (trad, _) = made["chain"], made["traditional"]
        except InputError as exc:  # an applicant missing from the registry: referred, with the reason
            chain = trad = decide.unknown_firm(app["application_id"], app["uscc"], app["amount"], str(exc), versions)
            inputs = {"application_id": app["application_id"], "uscc": app["uscc"], "amount": app["amount"]}
        row = {"application_id": app["application_id"], "uscc": app["uscc"],
               **{k: chain[k] for k in ("decision", "requested_amount", "amount", "pd", "score")},
               "reasons": json.dumps(chain["reasons"], ensure_ascii=False, sort_keys=True),
               "evidence": json.dumps(chain["evidence"], ensure_ascii=False, sort_keys=True),
               # the row's run_id column has the run
               "versions": json.dumps({k: v for k, v in chain["versions"].items() if k != "run_id"}, sort_keys=True),
               "inputs_hash": audit.digest({k: v for k, v in inputs.items() if k != "versions"}),
               "decided_at": _moment(app["applied_at"]),
               "decision_traditional": trad["decision"], "amount_traditional": trad["amount"],
               "pd_traditional": trad["pd"]}
        for key, value in row.items():
            out[key].append(value)
    return pa.table(out, schema=decisions_schema())
