"""Hand tables from one engine to another (e.g. a DuckDB-ingested workspace to a Spark warehouse).

The rows pass through this process as Arrow, so this is for workspaces that fit one machine: the
equality tests, a demo, a first move to Spark. At cluster scale, write the input tables as Parquet where
the cluster reads them and register them there instead (see the README's "Scale-out on Spark").
"""

from __future__ import annotations

from collections.abc import Sequence

from chainlight.engine.base import Engine, check_identifier


def copy_tables(source: Engine, target: Engine, names: Sequence[str]) -> dict[str, int]:
    """Copy each named table or view of ``source`` into ``target`` as a table; return the row counts."""
    counts: dict[str, int] = {}
    for name in names:
        data = source.query(f"SELECT * FROM {check_identifier(name)}")
        target.write_arrow(name, data)
        counts[name] = data.num_rows
    return counts
