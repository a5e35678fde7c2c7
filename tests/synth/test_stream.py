"""Streaming the generator (issue 18): firms, edges and paths made a block of firms at a time and spilled,
per-firm tables written a chunk at a time, output partitioned for Spark — the bytes independent of any chunk
size."""

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
from chainlight.synth import spill, trade
from chainlight.synth.firms import SPILLED, STORY_FIRM_NAME, FirmView, _Taken, make_firms
from chainlight.workspace import Workspace


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("profile", ["standard", "blind"])
def test_output_does_not_depend_on_the_chunk_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    """Streams are addressed by block of firms (``spill.FIRM_BLOCK``) or read in firm order, so chunks of 37
    firms write the bytes of one chunk of all."""
    monkeypatch.setattr(spill, "FIRM_BLOCK", 128)  # several blocks of firms, edges, paths and credit draws
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


def test_firm_text_columns_are_on_disk_and_read_back_by_rows(tmp_path: Path) -> None:
    world = make_firms(load_default(), 500, np.random.SeedSequence(4), tmp_path)
    for name in SPILLED:
        column = getattr(world, name)
        assert isinstance(column, np.memmap) and len(column) == 500
        assert np.array_equal(world.rows(name, 100, 260), column[100:260])
    assert np.array_equal(world.rows("health", 5, 9), world.health[5:9])  # a column in memory reads the same way


def test_names_and_codes_stay_unique_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 64 firms: uniqueness is kept against every earlier block (the sorted digests), not just
    within one; the planted firms keep their names in the first block."""
    monkeypatch.setattr(spill, "FIRM_BLOCK", 64)
    world = make_firms(load_default(), 3000, np.random.SeedSequence(9), tmp_path)
    names, codes = np.array(world.name).tolist(), np.array(world.uscc).tolist()
    assert len(set(names)) == 3000 and len(set(codes)) == 3000
    assert names[0] == STORY_FIRM_NAME
    assert not {f for f in np.array(world.former_name).tolist() if f} & set(names)  # a former name is nobody's name


def test_taken_sees_earlier_blocks_and_the_current_one() -> None:
    taken = _Taken()
    taken.add("甲")
    assert "甲" in taken and "乙" not in taken
    taken.fold()
    taken.add("乙")
    assert "甲" in taken and "乙" in taken and "丙" not in taken
    taken.fold()
    assert len(taken.done) == 2 and "乙" in taken and not taken.current


def test_output_does_not_depend_on_the_edge_slice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes over all edges (counts, sums, ties) go a slice at a time: the slice is memory, not the draw."""
    synth.generate(tmp_path / "whole", firms=300, seed=6, profile="blind")
    monkeypatch.setattr(trade, "EDGE_SLICE", 97)
    synth.generate(tmp_path / "sliced", firms=300, seed=6, profile="blind")
    assert digest(tmp_path / "whole") == digest(tmp_path / "sliced")


def test_a_different_block_length_is_a_different_draw_of_the_same_economy(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The block length addresses the streams (it is part of the economy's definition, unlike FIRM_CHUNK):
    another length draws other firms, with the same rules (sizes, story firm)."""
    synth.generate(tmp_path / "a", firms=400, seed=5)
    monkeypatch.setattr(spill, "FIRM_BLOCK", 100)
    synth.generate(tmp_path / "b", firms=400, seed=5)
    a, b = (pq.read_table(tmp_path / k / "enterprises.parquet") for k in ("a", "b"))
    assert a.num_rows == b.num_rows == 400 and a.column("name")[0] == b.column("name")[0]
    assert a.column("uscc").to_pylist()[1:] != b.column("uscc").to_pylist()[1:]


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


def test_rows_read_through_the_file_equal_the_mapped_rows(tmp_path: Path) -> None:
    """``spill.take`` and ``FirmView`` (an invoice batch's firms, read by pread) give what indexing the maps gives."""
    world = make_firms(load_default(), 700, np.random.SeedSequence(3), tmp_path)
    rows = np.array([[699, 0], [5, 5], [344, 12]])
    assert np.array_equal(spill.take(world.name, rows), np.asarray(world.name)[rows])
    assert spill.take(world.uscc, np.zeros(0, int)).shape == (0,)
    view = FirmView(world, np.array([3, 650, 3, 17]))
    assert view.name[650] == world.name[650] and np.array_equal(view.uscc[np.array([17, 3])], world.uscc[[17, 3]])
    assert view.health is world.health  # columns not read by a batch are the firms' own
