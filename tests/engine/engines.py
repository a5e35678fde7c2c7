"""The shared engine suite's helpers and fixtures: every test taking ``engine`` runs once per engine (ibis-style).

A gap is declared on the test with ``@notimpl(["spark"], reason)``: the Spark case then runs as an
expected failure (strict, so a gap that closes shows up), and what Spark lacks is visible in one place.
Spark cases carry the ``spark`` marker and skip, with the reason, when PySpark or Java is missing. One
SparkSession serves the whole test session (small and quiet: 2 shuffle partitions, no UI).

Test modules import the fixtures they use from here (a ``conftest.py`` in this folder would shadow the
top-level one, which other folders import by name).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from chainlight.config import Config, EngineSettings
from chainlight.engine import DuckDBEngine, Engine
from chainlight.workspace import Workspace

ENGINES = ("duckdb", "spark")
SPARK_TEST_CONF = {"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false",
                   "spark.driver.memory": "1g", "spark.default.parallelism": "2"}


def notimpl(engines: Sequence[str], reason: str) -> Callable[[Any], Any]:
    """Declare that ``engines`` cannot do what the test checks (yet); the test documents the gap."""
    return pytest.mark.notimpl(list(engines), reason=reason)


def require_spark() -> None:
    pytest.importorskip("pyspark", reason="the spark engine needs PySpark: pip install -e '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("the spark engine needs Java 17+ (dev/test installs it)")


def spark_settings() -> EngineSettings:
    return EngineSettings(name="spark", spark_conf=SPARK_TEST_CONF)


def engine_config(name: str, **extra: Any) -> Config:
    return Config(engine=spark_settings() if name == "spark" else EngineSettings(), **extra)


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
