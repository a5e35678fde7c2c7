"""Helpers of the shared engine suite: the engine names, ``notimpl`` and the quick Spark settings."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from chainlight.config import Config, EngineSettings

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
