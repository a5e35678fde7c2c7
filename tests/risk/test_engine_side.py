"""The risk stage's engine-side parts: the test AUC in SQL, the bounded training sample, and batch decisions made
per batch of applications with the online service's composition (evidence and recorded inputs included)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

from chainlight import risk
from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.risk import audit, batch
from chainlight.risk.decide import DecisionService
from chainlight.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path / "ws", Config())
    yield workspace
    workspace.close()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_in_sql_equals_sklearn_with_ties(ws: Workspace, seed: int) -> None:
    rng = np.random.default_rng(seed)
    score = np.round(rng.random(3000), 2)  # many ties
    label = rng.random(3000) < 0.1 + 0.3 * score
    ws.engine.register_arrow("_t", pa.table({"pd": score, risk.LABEL: label}))
    assert risk._auc(ws, "_t", "pd") == round(float(roc_auc_score(label.astype(int), score)), 6)


def test_auc_of_one_class_is_none(ws: Workspace) -> None:
    ws.engine.register_arrow("_t", pa.table({"pd": [0.1, 0.2], risk.LABEL: [False, False]}))
    assert risk._auc(ws, "_t", "pd") is None


def _labelled(ws: Workspace, firms: int) -> None:
    days = [date(2023, 6, 30) + timedelta(days=365 * i) for i in range(4)]  # two before the split, two after
    rows = [(f"F{i:06d}", d, (i * 7 + k) % 11 == 0, float(i % 13)) for i in range(firms) for k, d in enumerate(days)]
    ws.engine.register_arrow(risk.LABELLED, pa.table({
        "uscc": [r[0] for r in rows], "as_of": pa.array([r[1] for r in rows], pa.date32()),
        risk.LABEL: [r[2] for r in rows], "x": [r[3] for r in rows], "unread": [r[3] for r in rows],
        "industry_division": ["C"] * len(rows),
        "province": ["p"] * len(rows), "tier": ["t"] * len(rows)}))


def test_training_rows_are_all_rows_in_order_below_the_bound(ws: Workspace) -> None:
    _labelled(ws, 3000)
    frame, train, test = risk._training_rows(ws, Config().risk, date(2025, 1, 1), ["x", "tier"])
    assert (train, test) == (6000, 6000) and len(frame) == 6000
    assert list(frame.columns) == ["uscc", "as_of", risk.LABEL, "x", "tier"]  # only what the scorecards read
    assert list(zip(frame["uscc"], frame["as_of"], strict=True)) == sorted(zip(frame["uscc"], frame["as_of"], strict=True))
    assert all(d < date(2025, 1, 1) for d in frame["as_of"])


def test_training_rows_above_the_bound_are_a_stable_hash_sample(ws: Workspace) -> None:
    _labelled(ws, 3000)
    settings = Config().risk.model_copy(update={"train_max_rows": 1500})
    first, train, _ = risk._training_rows(ws, settings, date(2025, 1, 1), ["x"])
    again, _, _ = risk._training_rows(ws, settings, date(2025, 1, 1), ["x"])
    assert train == 6000 and 1200 <= len(first) <= 1800  # about the bound, not all rows
    assert first.equals(again)  # the same rows in the same order every run (and on every engine: md5 in SQL)
    keys = list(zip(first["uscc"], first["as_of"], strict=True))
    assert keys == sorted(keys) and len(set(first["uscc"])) > 1000  # spread over firms, not a prefix


def test_a_split_without_test_rows_is_an_input_error(ws: Workspace) -> None:
    _labelled(ws, 10)
    with pytest.raises(InputError, match="time split"):
        risk._training_rows(ws, Config().risk, date(2030, 1, 1), ["x"])


def test_every_batch_decision_is_the_services(tiny_workspace: Workspace) -> None:
    """Each decisions row — evidence, recorded inputs' hash and all — is what the online service composes for
    that application (one composition function); claim flags reach the batch evidence too."""
    service = DecisionService.load(tiny_workspace, Config())
    rows = tiny_workspace.engine.query("SELECT * FROM decisions WHERE pd IS NOT NULL ORDER BY application_id").to_pylist()
    assert len(rows) > 50
    for row in rows:
        fields, inputs = service.compose_view(row["uscc"], row["requested_amount"], row["application_id"], "chain")
        assert json.dumps(fields["evidence"], ensure_ascii=False, sort_keys=True) == row["evidence"], row["application_id"]
        assert audit.digest({k: v for k, v in inputs.items() if k != "versions"}) == row["inputs_hash"]
        assert (fields["decision"], fields["amount"], fields["score"]) == (row["decision"], row["amount"], row["score"])
    evidence = [json.loads(r["evidence"]) for r in rows]
    assert any(e["claims_supported"] or e["claims_contradicted"] for e in evidence)
    assert any(e["path_to_anchor"] for e in evidence) and any(e["key_customers"] for e in evidence)


def test_decide_rows_refers_an_unknown_firm_and_a_bad_amount(tiny_workspace: Workspace) -> None:
    service = DecisionService.load(tiny_workspace, Config())
    columns = sorted({c for v in service.views.values() for c in v.features})
    known = next(iter(service.features))
    rows = [{"application_id": "A1", "uscc": "NOT-A-FIRM", "amount": 1000.0, "applied_at": None, "known__": False},
            {"application_id": "A2", "uscc": known, "amount": -5.0, "applied_at": None, "known__": True}]
    for row in rows:
        row.update({f"f__{c}": service.features[known][c] if row["known__"] else None for c in columns})
        row.update({"path__": None, "customers__": None, "supported__": None, "contradicted__": None})
    out = batch.decide_rows(pa.RecordBatch.from_pylist(rows), policy=service.policy, views=service.views,
                            versions=service.versions, reason_count=3, columns=columns, floats=frozenset()).to_pylist()
    assert [r["decision"] for r in out] == ["refer", "refer"]
    assert "unknown enterprise 'NOT-A-FIRM'" in json.loads(out[0]["evidence"])["error"]
    assert "positive number" in json.loads(out[1]["evidence"])["error"]
    assert out[0]["pd"] is None and out[0]["decided_at"] == ""
