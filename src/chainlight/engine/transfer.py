"""Hand tables from one engine to another (e.g. a DuckDB-ingested workspace to a Spark warehouse).

The rows pass through this process as Arrow and a local Parquet folder, so this is for workspaces that fit one
machine: the equality tests, a demo, a first move to Spark. At cluster scale, write the input tables as
Parquet where the cluster reads them and register them there instead (see the README's "Scale-out on Spark").
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from chainlight.engine.base import Engine, check_identifier

#: Rows per Parquet row group of a handed-over table (the target's workers read the groups in parallel).
ROW_GROUP_ROWS = 1_000_000


def copy_tables(source: Engine, target: Engine, names: Sequence[str]) -> dict[str, int]:
    """Copy each named table or view of ``source`` into ``target`` as a table; return the row counts.

    Each table is written as a Parquet file that the target reads itself (``Engine.write_parquet``), inside one
    transaction: handed to Spark's driver as Arrow instead, a 1M-firm workspace's 37M invoices ran a 2g driver
    out of heap even in 64 MB chunks (the driver builds a local relation of every row it is given)."""
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="chainlight-handover-") as scratch, target.transaction():
        for name in names:
            check_identifier(name)
            data = source.query(f"SELECT * FROM {name}")
            folder = Path(scratch) / name
            folder.mkdir()
            pq.write_table(data, folder / "part-0.parquet", row_group_size=ROW_GROUP_ROWS)
            target.write_parquet(name, folder)
            counts[name] = data.num_rows
    return counts
