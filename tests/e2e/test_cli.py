"""The CLI as a user runs it: a real subprocess, checking exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

A, B = "914403001922038216", "91440300708461136T"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainlight", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines, result.stderr
    for fragment in fragments:
        assert any(fragment in line for line in lines), (fragment, result.stderr)


def test_help_lists_the_design_commands() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("demo", "synth", "ingest", "run", "eval", "decide", "serve", "audit", "ontology"):
        assert command in result.stdout


def test_ingest_mixed_folder_then_eval_json(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bureau.csv").write_text(
        "uscc,max_overdue_days,open_litigations,tax_arrears,blacklisted\n"
        f"{A},0,0,false,false\n{B},-3,0,false,false\nbad-code,0,0,false,false\n", encoding="utf-8")
    (folder / "applications.csv").write_text("application_id,uscc\nX1,{A}\n", encoding="utf-8")
    ws = tmp_path / "ws"
    result = cli("--quiet", "ingest", "--workspace", str(ws), str(folder))
    assert_one_line_error(result, "applications.csv", "missing required column(s) amount, applied_at")
    report = json.loads(cli("eval", "--workspace", str(ws), "--json").stdout)
    assert report == {"ingest": {"rows_in": 3, "rows_loaded": 1, "rows_quarantined": 2}}


def test_missing_path_and_unknown_stage_are_one_line(tmp_path: Path) -> None:
    assert_one_line_error(cli("ingest", "--workspace", str(tmp_path / "ws"), str(tmp_path / "nope")), "no such file")
    assert_one_line_error(cli("run", "--workspace", str(tmp_path / "ws"), "--stage", "nonsense"), "unknown stage")


def test_workspace_must_exist_for_eval(tmp_path: Path) -> None:
    assert_one_line_error(cli("eval", "--workspace", str(tmp_path / "missing")), "workspace does not exist")


def test_serve_on_a_workspace_without_a_database_is_one_line(tmp_path: Path) -> None:
    tmp_path.joinpath("ws").mkdir()
    assert_one_line_error(cli("serve", "--workspace", str(tmp_path / "ws")), "workspace has no database")


def test_keys_with_a_bad_role_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(cli("keys", "create", "--workspace", str(tmp_path), "--role", "admin"), "role must be one of")


def test_decide_before_the_risk_stage_ran_is_one_line(tmp_path: Path) -> None:
    tmp_path.joinpath("ws").mkdir()
    assert_one_line_error(cli("decide", "--workspace", str(tmp_path / "ws"), "--uscc", A, "--amount", "100"),
                          "the risk stage has not run")


def test_bad_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("serve:\n  port: nope\n")
    assert_one_line_error(cli("--config", str(config), "eval", "--workspace", str(tmp_path)), "serve.port")


def test_version_works_without_a_command() -> None:
    from chainlight import __version__
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == __version__


def test_file_level_error_is_one_warning_then_one_error_line_and_the_rest_loads(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bureau.csv").write_text("uscc,max_overdue_days,open_litigations,tax_arrears,blacklisted\n"
                                       f"{A},0,0,false,false\n", encoding="utf-8")
    (folder / "products_x.csv").write_bytes(b"PK\x03\x04 x \x00\xff")
    ws = tmp_path / "ws"
    result = cli("--quiet", "ingest", "--workspace", str(ws), str(folder), str(tmp_path / "nope.csv"))
    assert_one_line_error(result, "products_x.csv: binary data", "nope.csv: no such file")
    lines = result.stderr.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["WARNING", "WARNING", "error:", "error:"], lines
    assert "products_x.csv" in lines[0] and "nope.csv" in lines[1]
    report = json.loads(cli("eval", "--workspace", str(ws), "--json").stdout)
    assert report["ingest"] == {"rows_in": 1, "rows_loaded": 1, "rows_quarantined": 0}


def test_fifo_is_refused_not_read(tmp_path: Path) -> None:
    import os
    fifo = tmp_path / "enterprises.csv"
    os.mkfifo(fifo)
    assert_one_line_error(cli("ingest", "--workspace", str(tmp_path / "ws"), str(fifo)), "not a regular file")


def test_bad_settings_and_paths_are_one_named_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_bytes(b"engine:\n  memory_limit: \xff\n")
    assert_one_line_error(cli("--config", str(config), "eval", "--workspace", str(tmp_path)), "c.yaml", "not UTF-8")
    config.write_text("engine:\n  memory_limit: lots\n")
    assert_one_line_error(cli("--config", str(config), "ingest", "--workspace", str(tmp_path / "ws"), str(tmp_path)),
                          "engine.memory_limit")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert_one_line_error(cli("synth", "--out", str(a_file), "--firms", "10"), "a_file", "not a folder")
    assert_one_line_error(cli("synth", "--out", str(tmp_path / "s"), "--firms", "10", "--seed", "-1"), "seed")
    assert_one_line_error(cli("demo", "--workspace", str(a_file), "--firms", "1000"), "a_file", "not a folder")
    (tmp_path / "ws").mkdir()
    assert_one_line_error(cli("eval", "--workspace", str(tmp_path / "ws"), "--truth", str(tmp_path / "nowhere")),
                          "nowhere", "no such ground-truth folder")


def test_corrupt_or_locked_workspace_is_one_named_line(tmp_path: Path) -> None:
    import duckdb
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "chainlight.duckdb").write_bytes(b"garbage" * 1000)
    assert_one_line_error(cli("eval", "--workspace", str(ws)), "chainlight.duckdb", "cannot open the workspace database")
    (ws / "chainlight.duckdb").unlink()
    holder = duckdb.connect(str(ws / "chainlight.duckdb"))  # another process holds the lock
    try:
        assert_one_line_error(cli("eval", "--workspace", str(ws)), "chainlight.duckdb", "cannot open the workspace database")
    finally:
        holder.close()
