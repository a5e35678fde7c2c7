"""Streaming the generator (issue 18): firm state spilled, per-firm tables written a chunk at a time, output
partitioned for Spark — and not one byte of any table changed by it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import chainlight.synth as synth
from chainlight import ingest, tables
from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.ontology.model import load_default
from chainlight.synth.firms import REGISTRY_ONLY, make_firms
from chainlight.workspace import Workspace


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("profile", ["standard", "blind"])
def test_output_does_not_depend_on_the_chunk_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    """Every random stream is read in firm order, so chunks of 37 firms write the bytes of one chunk of all."""
    synth.generate(tmp_path / "whole", firms=400, seed=5, profile=profile)
    monkeypatch.setattr(synth, "FIRM_CHUNK", 37)
    synth.generate(tmp_path / "chunked", firms=400, seed=5, profile=profile)
    assert digest(tmp_path / "whole") == digest(tmp_path / "chunked")


def test_regrouped_chunks_write_the_bytes_of_one_whole_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uneven chunks, gathered into row groups of exactly ROW_GROUP rows, equal one write_table of the table."""
    monkeypatch.setattr(synth, "ROW_GROUP", 1000)
    rng = np.random.default_rng(1)
    table = pa.table({"name": [f"名称{i % 97}" for i in range(4321)], "value": rng.random(4321)})
    with pq.ParquetWriter(tmp_path / "whole.parquet", table.schema, compression="zstd") as whole:
        whole.write_table(table, row_group_size=1000)
    chunked = synth.writer(tmp_path, "chunked")
    for begin in range(0, 4321, 333):
        chunked.write(table.slice(begin, 333))
    chunked.write(table.slice(0, 0))  # an empty chunk adds nothing
    assert chunked.close() == 4321
    assert (tmp_path / "whole.parquet").read_bytes() == (tmp_path / "chunked.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "chunked.parquet").metadata.num_row_groups == 5


def test_spilled_columns_leave_memory_and_read_back_the_same(tmp_path: Path) -> None:
    world = make_firms(load_default(), 500, np.random.default_rng(4))
    before = {name: np.array(getattr(world, name)) for name in REGISTRY_ONLY}
    world.spill(tmp_path)
    for name in REGISTRY_ONLY:
        assert isinstance(getattr(world, name), np.memmap)
        assert np.array_equal(world.rows(name, 100, 260), before[name][100:260])
    assert np.array_equal(world.rows("health", 5, 9), world.health[5:9])  # a column in memory reads the same way


def test_no_spill_folder_is_left_behind(tmp_path: Path) -> None:
    synth.generate(tmp_path, firms=200, seed=1)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_partitioned_output_holds_the_same_rows_in_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "EDGE_BATCH", 200)  # several invoice batches: a part ends only between two
    synth.generate(tmp_path / "flat", firms=300, seed=2)
    monkeypatch.setattr(synth, "PART_ROWS", 2000)
    summary = synth.generate(tmp_path / "parts", firms=300, seed=2, partitioned=True)
    parts = sorted((tmp_path / "parts" / "invoices").glob("part-*.parquet"))
    assert len(parts) > 2 and not (tmp_path / "parts" / "invoices.parquet").exists()
    for name in ("invoices", "enterprises", "products", "patents", "outcomes", "bureau", "reports", "aliases"):
        flat = pq.read_table(tmp_path / "flat" / f"{name}.parquet")
        assert pq.read_table(tmp_path / "parts" / name).equals(flat), name  # same rows, same order
        assert summary.rows[name] == flat.num_rows
    flat_truth, part_truth = digest(tmp_path / "flat" / "truth"), digest(tmp_path / "parts" / "truth")
    assert flat_truth == part_truth


def test_partitioned_is_parquet_only(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Parquet only"):
        synth.generate(tmp_path, firms=200, fmt="csv", partitioned=True)


def test_ingest_reads_a_partitioned_economy_like_a_flat_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synth.generate(tmp_path / "flat", firms=200, seed=8)
    monkeypatch.setattr(synth, "PART_ROWS", 1500)
    synth.generate(tmp_path / "parts", firms=200, seed=8, partitioned=True)
    loaded = {}
    for kind in ("flat", "parts"):
        ws = Workspace(tmp_path / f"ws-{kind}", Config())
        try:
            report = ingest.run(ws, Config(), [tmp_path / kind])
            assert not report.errors and {f.table for f in report.files} <= set(tables.INPUT_TABLES)
            loaded[kind] = {t: ws.engine.scalar(f"SELECT count(*) FROM {t}") for t in ("invoices", "enterprises", "products")}
        finally:
            ws.close()
    assert loaded["flat"] == loaded["parts"]
