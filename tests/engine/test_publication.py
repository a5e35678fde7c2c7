"""Atomic publication through the workspace, on every engine: a failed stage leaves the previous good state."""

from __future__ import annotations

from pathlib import Path

import pytest
from engines import (  # fixtures: imported, not a conftest (see engines.py)
    engine,
    engine_config,
    engine_name,
    engine_ws,
    spark_session,
)

from chainlight import tables
from chainlight.errors import StageError
from chainlight.workspace import Workspace

tables.register(tables.TableSpec("engine_test_a", "engine_test", (tables.Column("v", "DOUBLE"),)))
tables.register(tables.TableSpec("engine_test_b", "engine_test", (tables.Column("v", "DOUBLE"),)))


def _publish(ws: Workspace, value: float, *, fail_after_first: bool = False) -> str:
    with ws.stage("engine_test") as writer:
        writer.write_sql("engine_test_a", "SELECT CAST($v AS DOUBLE) AS v", {"v": value})
        if fail_after_first:
            raise RuntimeError("crash midway")
        writer.write_sql("engine_test_b", "SELECT CAST($v AS DOUBLE) AS v", {"v": value})
    return writer.run_id


def _values(ws: Workspace) -> tuple[float, float]:
    return ws.engine.scalar("SELECT v FROM engine_test_a"), ws.engine.scalar("SELECT v FROM engine_test_b")


def test_failed_stage_keeps_every_previous_table(engine_ws: Workspace) -> None:
    good = _publish(engine_ws, 1.0)
    with pytest.raises(StageError, match="crash midway"):
        _publish(engine_ws, 2.0, fail_after_first=True)
    assert _values(engine_ws) == (1.0, 1.0)
    assert not engine_ws.table_exists("__new_engine_test_a")
    assert engine_ws.last_run("engine_test")["run_id"] == good
    statuses = engine_ws.engine.query("SELECT status FROM runs WHERE stage = 'engine_test' ORDER BY started_at")
    assert statuses.column(0).to_pylist() == ["ok", "failed"]
    _publish(engine_ws, 3.0)
    assert _values(engine_ws) == (3.0, 3.0)


@pytest.mark.spark
def test_spark_crash_during_the_swap_leaves_the_previous_manifest(spark_session: object, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The pointer switch is the only publishing step: if it never happens, a reopened workspace (a new
    process after a crash) sees the previous good tables, and no half-written table."""
    from chainlight.engine import spark_engine
    cfg = engine_config("spark")
    with Workspace(tmp_path / "ws", cfg) as ws:
        _publish(ws, 1.0)
        manifest = (ws.engine.warehouse / spark_engine.MANIFEST).read_text()  # type: ignore[attr-defined]

        def crash(*args: object) -> None:
            raise OSError("power cut")
        monkeypatch.setattr(spark_engine.os, "replace", crash)
        with pytest.raises(StageError):
            _publish(ws, 2.0)
        monkeypatch.undo()
        assert (ws.engine.warehouse / spark_engine.MANIFEST).read_text() == manifest  # type: ignore[attr-defined]
        assert _values(ws) == (1.0, 1.0)  # this session rolled back its view of the catalog too
    with Workspace(tmp_path / "ws", cfg) as reopened:
        assert _values(reopened) == (1.0, 1.0)
        _publish(reopened, 4.0)
        assert _values(reopened) == (4.0, 4.0)
