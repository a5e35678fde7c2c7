"""Batch SQL engines: one small interface, a DuckDB implementation (embedded default) and, later, Spark."""

from __future__ import annotations

from chainlight.engine.base import Dialect, Engine
from chainlight.engine.duckdb_engine import DuckDBEngine

__all__ = ["Dialect", "Engine", "DuckDBEngine"]
