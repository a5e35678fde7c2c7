"""The shared engine suite's fixtures: every test taking ``engine`` runs once per engine (ibis-style).

A gap is declared on the test with ``@notimpl(["spark"], reason)``: the Spark case then runs as an
expected failure (strict, so a gap that closes shows up), and what Spark lacks is visible in one place.
Spark cases carry the ``spark`` marker and skip, with the reason, when PySpark or Java is missing. One
SparkSession serves the whole test session (small and quiet: 2 shuffle partitions, no UI).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import SPARK_TEST_CONF, engine_config, require_spark

from chainlight.engine import DuckDBEngine, Engine
from chainlight.workspace import Workspace


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    require_spark()
    from chainlight.engine.spark_engine import spark_session as make
    yield make(SPARK_TEST_CONF)


def _apply_notimpl(request: pytest.FixtureRequest, name: str) -> None:
    for mark in request.node.iter_markers("notimpl"):
        if name in mark.args[0]:
            request.applymarker(pytest.mark.xfail(reason=f"not implemented on {name}: {mark.kwargs['reason']}",
                                                  strict=True))


@pytest.fixture(params=[pytest.param("duckdb"), pytest.param("spark", marks=pytest.mark.spark)])
def engine_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "spark":
        request.getfixturevalue("spark_session")
    _apply_notimpl(request, name)
    return name


@pytest.fixture
def engine(engine_name: str, tmp_path: Path) -> Iterator[Engine]:
    if engine_name == "spark":
        from chainlight.engine.spark_engine import SparkEngine
        made: Engine = SparkEngine(tmp_path / "warehouse", conf=SPARK_TEST_CONF)
    else:
        made = DuckDBEngine(tmp_path / "test.duckdb")
    yield made
    made.close()


@pytest.fixture
def engine_ws(engine_name: str, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on each engine."""
    workspace = Workspace(tmp_path / "ws", engine_config(engine_name))
    yield workspace
    workspace.close()
