"""Hand tables from one engine to another (e.g. a DuckDB-ingested workspace to a Spark warehouse).

The rows pass through this process as Arrow, so this is for workspaces that fit one machine: the
equality tests, a demo, a first move to Spark. At cluster scale, write the input tables as Parquet where
the cluster reads them and register them there instead (see the README's "Scale-out on Spark").
"""

from __future__ import annotations

from collections.abc import Sequence

from chainlight.engine.base import Engine, check_identifier

#: Arrow bytes handed to the target engine at a time: a cluster engine's driver holds one chunk, not the table.
CHUNK_BYTES = 64 * 2**20


def copy_tables(source: Engine, target: Engine, names: Sequence[str]) -> dict[str, int]:
    """Copy each named table or view of ``source`` into ``target`` as a table; return the row counts.

    Each table is written in chunks of about ``CHUNK_BYTES`` inside one transaction (published whole or not at
    all): Spark's driver turns the Arrow rows it is given into a table in its heap, so a 1M-firm workspace's
    tables given at once (37M invoices; registry text) ran a 2g driver out of memory."""
    counts: dict[str, int] = {}
    for name in names:
        check_identifier(name)
        data = source.query(f"SELECT * FROM {name}")
        rows = max(1, CHUNK_BYTES * data.num_rows // max(1, data.nbytes))
        with target.transaction():
            target.write_arrow(name, data.slice(0, rows))
            for offset in range(rows, data.num_rows, rows):
                target.register_arrow("_copy_chunk", data.slice(offset, rows))
                target.execute(f"INSERT INTO {name} SELECT * FROM _copy_chunk")
        counts[name] = data.num_rows
    return counts
