"""The matcher's registry index in flat arrays.

As Python objects (a dataclass per name, a dict of lists per key) the index cost about 1,450 bytes per
registry name: a 10M-firm registry (15.8M names) needed 23 GB in each Python worker. Here every
lookup table is one sorted array of key hashes with offsets into one array of entry numbers (a CSR
layout), and the entries are columns: a few hundred bytes per name. Entries are rebuilt as objects
only when a mention meets them.

Keys are looked up by their in-process ``hash`` (SipHash, 64 bits): the index lives only in the
process that built it (and its forks), so the salted hash is stable where it is used. Two keys that
collide would share a posting; with ~10^8 keys that happens for a given lookup with probability
~10^-11, which we accept rather than keep every key's text.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Iterator

import numpy as np

from chainlight.resolve.normalise import NameParts

NO_ENTRIES = np.zeros(0, dtype=np.int32)


def _slot(keys: np.ndarray, key: str) -> int:
    """Where ``key``'s hash sits in the sorted ``keys``, or -1."""
    wanted = hash(key)
    slot = int(keys.searchsorted(wanted))  # the method: ``np.searchsorted``'s dispatch cost more than the search
    return slot if slot < len(keys) and keys[slot] == wanted else -1


class KeyHashes:
    """Pairs (key, entry) collected while the index is built, 12 bytes each (no Python object per pair)."""

    def __init__(self) -> None:
        self.keys = array("q")
        self.entries = array("i")

    def add(self, key: str, entry: int) -> None:
        self.keys.append(hash(key))
        self.entries.append(entry)


class Postings:
    """Per key, its entries in ascending order; ``get`` mirrors a dict of arrays."""

    def __init__(self, pairs: KeyHashes) -> None:
        keys = np.frombuffer(pairs.keys, dtype=np.int64)
        entries = np.frombuffer(pairs.entries, dtype=np.int32)
        order = np.lexsort((entries, keys))
        sorted_keys = keys[order]
        self._entries = entries[order]
        self._keys, starts = np.unique(sorted_keys, return_index=True)
        self._starts = np.append(starts, len(sorted_keys)).astype(np.int64)

    def get(self, key: str, default: np.ndarray = NO_ENTRIES) -> np.ndarray:
        slot = _slot(self._keys, key)
        return default if slot < 0 else self._entries[self._starts[slot]:self._starts[slot + 1]]

    @property
    def nbytes(self) -> int:
        return self._entries.nbytes + self._keys.nbytes + self._starts.nbytes


class Counts:
    """How many times each key was added (``get`` mirrors ``Counter.get``)."""

    def __init__(self, keys: array) -> None:
        self._keys, counts = np.unique(np.frombuffer(keys, dtype=np.int64), return_counts=True)
        self._counts = counts.astype(np.int32)

    def get(self, key: str, default: int = 0) -> int:
        slot = _slot(self._keys, key)
        return default if slot < 0 else int(self._counts[slot])

    @property
    def nbytes(self) -> int:
        return self._keys.nbytes + self._counts.nbytes


class Entry:
    """One registry name as the matcher reads it."""

    __slots__ = ("uscc", "parts", "from_alias")

    def __init__(self, uscc: str, parts: NameParts, from_alias: bool) -> None:
        self.uscc = uscc
        self.parts = parts
        self.from_alias = from_alias


class Entries:
    """The registry names as columns: USCC bytes, cores in one string with offsets, interned places and
    legal forms, flags. ``entries[i]`` builds the ``Entry``; ``full(i)`` the place + core text alone."""

    def __init__(self, rows: Iterable[tuple[str, NameParts, bool]]) -> None:
        usccs: list[bytes] = []
        uscc_chunks: list[np.ndarray] = []
        core_chunks: list[str] = []
        cores: list[str] = []
        lengths = array("i")
        regions = array("i")
        forms = array("h")
        flags = array("b")
        self._regions: list[tuple[str, ...]] = []
        self._region_texts: list[str] = []
        self._forms: list[str] = []
        region_ids: dict[tuple[str, ...], int] = {}
        form_ids: dict[str, int] = {}
        for uscc, parts, from_alias in rows:
            usccs.append(uscc.encode())
            cores.append(parts.core)
            if len(cores) >= 100_000:  # in chunks: no Python object per name outlives its chunk
                core_chunks.append("".join(cores))
                uscc_chunks.append(np.array(usccs, dtype=bytes))
                cores.clear()
                usccs.clear()
            lengths.append(len(parts.core))
            if parts.regions not in region_ids:
                region_ids[parts.regions] = len(self._regions)
                self._regions.append(parts.regions)
                self._region_texts.append("".join(parts.regions))
            regions.append(region_ids[parts.regions])
            if parts.legal_form not in form_ids:
                form_ids[parts.legal_form] = len(self._forms)
                self._forms.append(parts.legal_form)
            forms.append(form_ids[parts.legal_form])
            flags.append(int(parts.branch) | int(from_alias) << 1)
        core_chunks.append("".join(cores))
        uscc_chunks.append(np.array(usccs, dtype=bytes) if usccs else np.zeros(0, dtype="S1"))
        self._cores = "".join(core_chunks)
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(lengths, dtype=np.int32), out=starts[1:])
        # the per-entry columns stay ``array``s: indexing one gives a Python int ~4x faster than numpy's scalars
        self._starts = array("q", starts.tobytes())
        self._usccs = np.concatenate(uscc_chunks)
        self._region_ids, self._form_ids, self._flags = regions, forms, flags

    def __len__(self) -> int:
        return len(self._usccs)

    def __getitem__(self, index: int) -> Entry:
        """Built at each call: an LRU cache of entries was slower (its churn of long-lived objects made the
        garbage collector run full passes: 8,000 names against 300k firms took 5.0 s with it, 4.0 s without)."""
        flags = self._flags[index]
        parts = NameParts(self._regions[self._region_ids[index]], self._cores[self._starts[index]:self._starts[index + 1]],
                          self._forms[self._form_ids[index]], bool(flags & 1))
        return Entry(self._usccs[index].decode(), parts, bool(flags & 2))

    def __iter__(self) -> Iterator[Entry]:
        return (self[i] for i in range(len(self)))

    def uscc(self, index: int) -> str:
        return self._usccs[index].decode()  # type: ignore[no-any-return]

    def full(self, index: int) -> str:
        """Place + core (``matcher.place_core``) without building the entry."""
        return self._region_texts[self._region_ids[index]] + self._cores[self._starts[index]:self._starts[index + 1]]

    @property
    def nbytes(self) -> int:
        columns = (self._starts, self._region_ids, self._form_ids, self._flags)
        return sys.getsizeof(self._cores) + self._usccs.nbytes + sum(c.itemsize * len(c) for c in columns)

