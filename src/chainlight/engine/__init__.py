"""Batch SQL engines: one small interface, DuckDB (embedded default) and Spark (scale-out)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chainlight.engine.base import Dialect, Engine
from chainlight.engine.duckdb_engine import DuckDBEngine

if TYPE_CHECKING:
    from chainlight.config import EngineSettings

__all__ = ["Dialect", "Engine", "DuckDBEngine", "open_engine", "DB_FILE", "SPARK_FOLDER"]

DB_FILE = "chainlight.duckdb"
SPARK_FOLDER = "spark"


def open_engine(settings: EngineSettings, root: Path, *, read_only: bool = False) -> Engine:
    """The engine ``engine.name`` names, over the workspace folder ``root``.

    DuckDB keeps one database file in the workspace; Spark a warehouse of Parquet folders
    (``engine.spark_warehouse``, default ``<workspace>/spark``) with its manifest.
    """
    if settings.name == "spark":
        try:
            from chainlight.engine.spark_engine import SparkEngine  # sqlglot and PySpark: the [spark] extra
        except ImportError as exc:
            from chainlight.errors import ChainlightError
            raise ChainlightError(f"engine 'spark' needs the [spark] extra: pip install 'chainlight[spark]' ({exc})") from exc
        warehouse = settings.spark_warehouse or root / SPARK_FOLDER
        return SparkEngine(warehouse, conf=settings.spark_conf, read_only=read_only, lock_wait=settings.spark_lock_wait,
                           retain_seconds=settings.spark_retain_seconds)
    return DuckDBEngine(root / DB_FILE, threads=settings.threads, memory_limit=settings.memory_limit,
                        read_only=read_only)
