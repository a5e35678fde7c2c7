"""Columns too large to hold for a 10M-firm economy, written a block at a time to a spill folder and read
back memory-mapped (issue 18: the generator's memory flat in the number of firms).

Random streams are addressed by block (``block_rng``): block k of a stream draws from its own
``SeedSequence`` child, so a block's draws do not depend on how many blocks are held at once, and the
output does not depend on any chunk size, only on the seed and the fixed block length of the stage.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar, cast

import numpy as np

Array = TypeVar("Array", bound=np.ndarray)

FIRM_BLOCK = 1 << 15  # firms per block of every per-firm stream: part of the economy's definition, like the seed


def blocks(count: int) -> Iterator[tuple[int, int, int]]:
    """(block number, first firm, end) of each block of ``FIRM_BLOCK`` firms."""
    for block, begin in enumerate(range(0, count, FIRM_BLOCK)):
        yield block, begin, min(begin + FIRM_BLOCK, count)


def block_rng(seeds: np.random.SeedSequence, *key: int) -> np.random.Generator:
    """The generator of block ``key`` of the stream ``seeds`` (its child ``seeds.spawn_key + key``)."""
    return np.random.default_rng(np.random.SeedSequence(seeds.entropy, spawn_key=(*seeds.spawn_key, *key)))


class Spill:
    """Named columns appended a block at a time; ``finish`` joins a column's blocks into one ``.npy`` file
    (strings at the widest block's width) and maps it read-only, so only the pages read stay resident."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder, self.prefix = folder, prefix
        folder.mkdir(parents=True, exist_ok=True)
        self.blocks: dict[str, list[Path]] = {}

    def append(self, name: str, values: np.ndarray) -> None:
        parts = self.blocks.setdefault(name, [])
        path = self.folder / f"{self.prefix}.{name}.{len(parts)}.npy"
        np.save(path, np.ascontiguousarray(values))
        parts.append(path)

    def finish(self, name: str, dtype: np.dtype | type | None = None) -> np.ndarray:
        parts = self.blocks.pop(name, [])
        shapes = [_header(p) for p in parts]  # (length, dtype) of each block, read without mapping it
        kinds = [kind for _, kind in shapes]
        kind = np.dtype(dtype) if dtype is not None else np.result_type(*kinds) if kinds else np.dtype(np.float64)
        path = self.folder / f"{self.prefix}.{name}.npy"
        header = np.lib.format.open_memmap(path, mode="w+", dtype=kind, shape=(sum(n for n, _ in shapes),))
        offset = header.offset  # the file is sized but sparse; its blocks are written through the file, not a map
        del header
        with path.open("r+b") as handle:
            handle.seek(offset)
            for part in parts:  # one block in memory at a time
                handle.write(np.ascontiguousarray(np.load(part), dtype=kind).tobytes())
                part.unlink()
        return np.load(path, mmap_mode="r")


def _header(path: Path) -> tuple[int, np.dtype]:
    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(handle)
    return shape[0], dtype


def zeros(folder: Path, name: str, shape: int | tuple[int, ...], dtype: np.dtype | type, fill: object = 0) -> np.memmap:
    """A writable on-disk array (``open_memmap``), for running sums and per-firm paths too long to keep in memory."""
    shape = (shape,) if isinstance(shape, int) else shape
    array = np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=np.dtype(dtype), shape=shape)
    if fill:
        array[:] = fill
    return array


def remap(array: Array) -> Array:
    """``array`` mapped afresh when it is a file-backed map (the pages the last batch read leave RSS; a
    writable map is flushed first), else itself."""
    if isinstance(array, np.memmap) and array.filename is not None:
        if array.flags.writeable:
            array.flush()
            return cast(Array, np.load(array.filename, mmap_mode="r+"))
        return cast(Array, np.load(array.filename, mmap_mode="r"))
    return array


def take(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``column[rows]``, for a file-backed column read through the file rather than faulted in from the map:
    a read fault maps up to 16 neighbouring pages as well (the kernel's fault-around), so 20,000 random rows
    of a 10M-firm column would bring about a gigabyte of it into RSS, where reading them costs a page each
    of page cache only."""
    rows = np.asarray(rows)
    if not isinstance(column, np.memmap) or column.filename is None or not len(rows):
        return np.asarray(column[rows])
    size, start = column.dtype.itemsize, column.offset
    handle = os.open(column.filename, os.O_RDONLY)
    try:
        data = b"".join([os.pread(handle, size, start + row * size) for row in rows.ravel().tolist()])
    finally:
        os.close(handle)
    return np.frombuffer(data, column.dtype).reshape(rows.shape).copy()


class Picked:
    """One column for a few rows (``ids``), read through the file (``take``), indexed by the full column's row
    numbers."""

    def __init__(self, column: np.ndarray, ids: np.ndarray) -> None:
        self.ids = ids
        self.values = take(column, ids)

    def __getitem__(self, rows: object) -> np.ndarray:
        return self.values[np.searchsorted(self.ids, rows)]  # type: ignore[call-overload]
