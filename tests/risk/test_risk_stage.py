"""The risk stage on the tiny synthetic economy: tables, online decisions, replay, determinism (the story: test_story.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainlight import risk
from chainlight.cli import app
from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.risk import audit
from chainlight.risk.decide import DecisionService
from chainlight.risk.story import find_story_firm
from chainlight.synth import STORY_FIRM_NAME
from chainlight.workspace import Workspace

COMPARED = ["application_id", "uscc", "decision", "requested_amount", "amount", "pd", "score", "reasons", "evidence",
            "versions", "inputs_hash", "decided_at", "decision_traditional", "amount_traditional", "pd_traditional"]


@pytest.fixture(scope="module")
def service(tiny_workspace: Workspace) -> DecisionService:
    return DecisionService.load(tiny_workspace, Config())


def test_stage_tables(tiny_workspace: Workspace) -> None:
    ws = tiny_workspace
    q = ws.engine.query
    assert ws.row_count("decisions") == ws.row_count("applications") > 0
    assert ws.row_count("risk_features") == ws.row_count("enterprises")
    views = {r["view"]: r for r in q("SELECT * FROM risk_models").to_pylist()}
    assert set(views) == {"chain", "traditional"} and views["chain"]["model_hash"] != views["traditional"]["model_hash"]
    for meta in views.values():
        assert (ws.root / "risk" / "models" / f"{meta['model_hash']}.card").exists()
    split = q("SELECT min(observed_at) AS first, count(*) AS n FROM risk_backtest").to_pylist()[0]
    assert split["n"] > 0 and split["first"].isoformat() >= Config().risk.train_before
    verdicts = set(q("SELECT DISTINCT verdict FROM claim_verdicts").column(0).to_pylist())
    assert verdicts <= {"supported", "contradicted", "unverifiable"} and "contradicted" in verdicts
    decisions = set(q("SELECT DISTINCT decision FROM decisions").column(0).to_pylist())
    assert decisions <= {"approve", "refer", "decline"}
    assert ws.engine.scalar("SELECT count(*) FROM decisions WHERE decision <> 'approve' AND amount <> 0") == 0


def test_batch_decisions_equal_the_online_composition(tiny_workspace: Workspace, service: DecisionService) -> None:
    for row in tiny_workspace.engine.query("SELECT * FROM decisions ORDER BY application_id LIMIT 20").to_pylist():
        fields, _ = service.compose_view(row["uscc"], row["requested_amount"], row["application_id"], "chain")
        assert (fields["decision"], fields["amount"], fields["pd"]) == (row["decision"], row["amount"], row["pd"])
        assert json.dumps(fields["reasons"], ensure_ascii=False, sort_keys=True) == row["reasons"]


def test_decide_appends_one_entry_and_replays_identically(tiny_workspace: Workspace, service: DecisionService) -> None:
    uscc = tiny_workspace.engine.scalar("SELECT uscc FROM decisions ORDER BY application_id LIMIT 1")
    before = audit.verify(tiny_workspace).entries
    decision = service.decide(uscc, 300_000, "T-1")
    assert decision.audit_entry_id == before + 1 and audit.verify(tiny_workspace).ok
    assert decision.versions["policy_hash"] and decision.versions["model_hash"] and decision.versions["ontology"]
    replayed = audit.replay(tiny_workspace, decision.audit_entry_id)
    assert replayed == decision
    entry = audit.entry(tiny_workspace, decision.audit_entry_id)
    assert entry["inputs_hash"] == audit.digest(entry["inputs"]) and entry["inputs"]["features"]


def test_unknown_firm_and_bad_amount_are_input_errors(service: DecisionService) -> None:
    with pytest.raises(InputError, match="unknown enterprise"):
        service.decide("91330400XXXXXXXXXX", 100_000)
    uscc = next(iter(service.features))
    with pytest.raises(InputError, match="positive"):
        service.decide(uscc, -5)


def test_replay_of_a_batch_entry_is_refused(tiny_workspace: Workspace) -> None:
    batch = next(e for e in audit.entries(tiny_workspace) if e["kind"] == "batch")
    with pytest.raises(InputError, match="batch entry"):
        audit.replay(tiny_workspace, batch["id"])


def test_batch_entry_hashes_the_published_decisions(tiny_workspace: Workspace) -> None:
    """The batch entry's ``decisions_hash`` is the published table's, computed in the engine: the same for the
    same rows, another when one cell changes (a PD in its 8th decimal, an amount by a cent) or a row goes."""
    batch = [e for e in audit.entries(tiny_workspace) if e["kind"] == "batch"][-1]
    digest = risk._decisions_digest(tiny_workspace)
    assert batch["inputs"]["decisions_hash"] == digest and len(digest) == 64
    engine = tiny_workspace.engine
    engine.execute("CREATE OR REPLACE TEMP TABLE _copied AS SELECT * FROM decisions")
    assert risk._decisions_digest(tiny_workspace, "_copied") == digest
    first = engine.scalar("SELECT min(application_id) FROM decisions")
    for change in ("pd = pd + 1e-8", "amount = amount + 0.01", "reasons = reasons || ' '", "decided_at = NULL"):
        engine.execute(f"UPDATE _copied SET {change} WHERE application_id = $a", {"a": first})
        assert risk._decisions_digest(tiny_workspace, "_copied") != digest, change
        engine.execute("CREATE OR REPLACE TEMP TABLE _copied AS SELECT * FROM decisions")
    engine.execute("DELETE FROM _copied WHERE application_id = $a", {"a": first})
    assert risk._decisions_digest(tiny_workspace, "_copied") != digest
    engine.execute("DROP TABLE _copied")


def test_rerun_gives_identical_decisions(tiny_workspace: Workspace) -> None:
    def snapshot() -> list[dict]:
        return tiny_workspace.engine.query(f"SELECT {', '.join(COMPARED)} FROM decisions ORDER BY application_id").to_pylist()
    first = snapshot()
    risk.run(tiny_workspace, Config())
    assert snapshot() == first


def copy_of(ws: Workspace, target: Path) -> Path:
    """A copy of the shared workspace (one process may not open the same database file twice)."""
    ws.engine.execute("CHECKPOINT")
    shutil.copytree(ws.root, target, ignore=shutil.ignore_patterns("*.wal", "*.tmp"))
    return target


def test_decide_cli_prints_decision_and_reasons_and_replays(tiny_workspace: Workspace, tmp_path: Path) -> None:
    uscc = find_story_firm(tiny_workspace, STORY_FIRM_NAME)
    root = str(copy_of(tiny_workspace, tmp_path / "ws"))
    runner = CliRunner()
    result = runner.invoke(app, ["decide", "--workspace", root, "--uscc", uscc.lower(), "--amount", "2000000"])
    assert result.exit_code == 0, result.output
    assert "path to anchor" in result.output and "audit entry" in result.output
    assert "Its goods reach a large anchor firm" in result.output and "核心企业" in result.output
    as_json = runner.invoke(app, ["decide", "--workspace", root, "--uscc", uscc, "--amount", "2000000", "--json"])
    decided = json.loads(as_json.output)
    assert result.output.startswith(f"{uscc}: {decided['decision']} ")  # the text and JSON forms agree
    entry_id = decided["audit_entry_id"]
    replayed = runner.invoke(app, ["audit", "replay", "--workspace", root, "--entry", str(entry_id)])
    assert replayed.exit_code == 0 and "replay matches" in replayed.output
    bad = runner.invoke(app, ["decide", "--workspace", root, "--uscc", "91330400XXXXXXXXXX", "--amount", "1"])
    assert bad.exit_code == 1 and "unknown enterprise" in bad.output


def test_policy_file_error_stops_the_stage(tiny_workspace: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("policy: x\nversion: '1'\ntables: []\nlimits: {}\n", encoding="utf-8")
    cfg = Config.model_validate({"risk": {"policy": str(bad)}})
    before = tiny_workspace.engine.scalar("SELECT any_value(run_id) FROM decisions")
    with pytest.raises(InputError, match="policy.yaml"):
        risk.run(tiny_workspace, cfg)
    assert tiny_workspace.engine.scalar("SELECT any_value(run_id) FROM decisions") == before
