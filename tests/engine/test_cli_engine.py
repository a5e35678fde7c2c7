"""``--engine`` on the command line: a real subprocess, one-line errors, nothing half-done."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from engines import engine, engine_name, engine_ws, spark_session  # fixtures: imported, not a conftest (see engines.py)


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainlight", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_unknown_engine_is_a_usage_error(tmp_path: Path) -> None:
    result = cli("run", "-w", str(tmp_path), "--engine", "oracle")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "duckdb" in result.stderr and "spark" in result.stderr


@pytest.mark.spark
def test_run_on_spark_runs_the_stages_asked_for(spark_session: object, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    ok = cli("run", "-w", str(ws), "--engine", "spark", "--stage", "ontology")
    assert ok.returncode == 0, ok.stderr
    assert "chains 9 rows" in ok.stdout.replace("\n", " ")
    assert not (ws / "chainlight.duckdb").exists()  # the spark workspace never touched DuckDB


@pytest.mark.spark
def test_demo_on_spark_runs_every_stage(spark_session: object, tmp_path: Path) -> None:
    """``chainlight demo --engine spark``: the synthetic economy through every batch stage (risk included) and
    eval, all on Spark; the decisions are published in the warehouse and no DuckDB file is made."""
    root = tmp_path / "demo"
    result = cli("demo", "-w", str(root), "--engine", "spark", "--firms", "1000", "--seed", "3", timeout=2400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "risk:" in result.stdout and "decisions" in result.stdout
    manifest = json.loads((root / "spark" / "manifest.json").read_text(encoding="utf-8"))
    assert {"decisions", "risk_backtest", "risk_features"} <= set(manifest["tables"])
    assert not (root / "chainlight.duckdb").exists()


@pytest.mark.spark
def test_ingest_on_spark_from_the_command_line(spark_session: object, tmp_path: Path) -> None:
    data = tmp_path / "bureau.csv"
    data.write_text("uscc,max_overdue_days,open_litigations,tax_arrears,blacklisted\n"
                    "914403001922038216,0,0,false,false\n91440300708461136X,0,0,false,false\n", encoding="utf-8")
    result = cli("ingest", "-w", str(tmp_path / "ws"), "--engine", "spark", str(data))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ws" / "spark" / "manifest.json").exists() and not (tmp_path / "ws" / "chainlight.duckdb").exists()
    assert "bureau" in result.stdout
