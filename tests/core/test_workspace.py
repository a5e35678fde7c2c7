from __future__ import annotations

from pathlib import Path

import pytest

from chainlight import tables
from chainlight.errors import InputError, StageError
from chainlight.workspace import Workspace

tables.register(tables.TableSpec("test_scores", "test_stage", (tables.Column("firm", "VARCHAR"),
                                                               tables.Column("score", "DOUBLE"))))


def _write(ws: Workspace, score: float) -> str:
    with ws.stage("test_stage") as writer:
        writer.write_sql("test_scores", "SELECT 'a' AS firm, CAST($s AS DOUBLE) AS score", {"s": score})
    return writer.run_id


def test_stage_swaps_in_tables_with_run_id(ws: Workspace) -> None:
    run_id = _write(ws, 1.0)
    rows = ws.engine.query("SELECT * FROM test_scores").to_pylist()
    assert rows == [{"firm": "a", "score": 1.0, "run_id": run_id}]
    assert ws.last_run("test_stage")["run_id"] == run_id


def test_failing_stage_leaves_previous_good_tables(ws: Workspace) -> None:
    good = _write(ws, 1.0)
    with pytest.raises(StageError, match="boom"):
        with ws.stage("test_stage") as writer:
            writer.write_sql("test_scores", "SELECT 'a' AS firm, 2.0 AS score")
            raise RuntimeError("boom")
    assert ws.engine.query("SELECT score, run_id FROM test_scores").to_pylist() == [{"score": 1.0, "run_id": good}]
    assert not ws.engine.table_exists("__new_test_scores")
    statuses = ws.engine.query("SELECT status FROM runs WHERE stage = 'test_stage' ORDER BY started_at").column(0)
    assert statuses.to_pylist() == ["ok", "failed"]


def test_bad_sql_midway_keeps_old_tables(ws: Workspace) -> None:
    _write(ws, 1.0)
    with pytest.raises(StageError):
        with ws.stage("test_stage") as writer:
            writer.write_sql("test_scores", "SELECT no_such_column FROM test_scores")
    assert ws.row_count("test_scores") == 1


def test_stage_may_not_write_tables_it_does_not_own(ws: Workspace) -> None:
    with pytest.raises(StageError, match="may not write"):
        with ws.stage("test_stage") as writer:
            writer.write_sql("invoices", "SELECT 1 AS x")


def test_stage_output_must_have_declared_columns(ws: Workspace) -> None:
    with pytest.raises(StageError, match="lacks declared column"):
        with ws.stage("test_stage") as writer:
            writer.write_sql("test_scores", "SELECT 'a' AS firm")


def test_rerun_gives_same_rows(ws: Workspace) -> None:
    _write(ws, 3.0)
    first = ws.engine.query("SELECT firm, score FROM test_scores").to_pylist()
    _write(ws, 3.0)
    assert ws.engine.query("SELECT firm, score FROM test_scores").to_pylist() == first


def test_workspace_path_that_is_a_file_is_an_input_error(tmp_path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        Workspace(target)


def test_corrupt_workspace_database_is_named(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "chainlight.duckdb").write_bytes(b"not a database at all" * 100)
    with pytest.raises(InputError, match="cannot open the workspace database") as caught:
        Workspace(tmp_path / "ws")
    assert "chainlight.duckdb" in str(caught.value)
