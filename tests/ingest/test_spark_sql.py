"""Ingest's generated SQL is valid for the Spark engine for every input table and every column (parsed and
rewritten by sqlglot here, no JVM): a format or name that breaks the text fails here, not on a cluster."""

from __future__ import annotations

import pytest

import chainlight.ingest  # noqa: F401  (registers the input tables)
from chainlight import tables
from chainlight.config import Config
from chainlight.engine.spark_engine import SPARK_DIALECT
from chainlight.ingest.checks import validation_select


@pytest.mark.parametrize("name", sorted(tables.INPUT_TABLES))
def test_validation_select_transpiles_to_spark(name: str) -> None:
    spec = tables.INPUT_TABLES[name]
    columns = list(spec.column_names)
    source = SPARK_DIALECT.parquet_source([(c, f"_c{i}") for i, c in enumerate(columns)])
    spark_sql = SPARK_DIALECT.transpile(validation_select(spec, source, columns, SPARK_DIALECT, Config().ingest))
    assert "FROM" in spark_sql


def test_timestamp_formats_with_a_literal_t_are_quoted() -> None:
    """``yyyy-MM-dd'T'HH:mm:ss`` inside a SQL string: the quotes around T are doubled."""
    expr = SPARK_DIALECT.try_timestamp("x")
    assert "'yyyy-MM-dd''T''HH:mm:ss'" in expr
    SPARK_DIALECT.transpile(f"SELECT {expr} AS t FROM (SELECT '2024-03-01T08:30:00' AS x)")
