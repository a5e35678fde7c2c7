"""The audit log: append-only, hash-chained JSON lines beside the workspace database.

Why a JSONL file and not a DuckDB table: DuckDB lets one process at a time open the database for
writing, so the decision service's workers, a CLI ``decide`` and a batch run could not all append to
a table; a plain file appended under an exclusive ``flock`` can, from any number of processes, and a
regulator can read it with any tool. Each line is one entry::

    {"id": 7, "kind": "decision", "at": "...", "prev_hash": "<hash of entry 6>",
     "inputs_hash": "...", "inputs": {...}, "decision": {...}, "hash": "<sha256 of this entry>"}

``hash`` is the sha256 of the entry's canonical JSON without ``hash``; ``prev_hash`` chains the
entries, so an edit breaks the entry's own hash, a deletion or a reordering breaks the chain and the
id sequence. Deleting the newest entries leaves a valid shorter chain, so ``audit.head`` (written
under the same lock) remembers the newest id, hash and the log's size; ``verify`` compares the log against it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from chainlight.errors import InputError

if TYPE_CHECKING:
    from chainlight.risk.decide import Decision
    from chainlight.workspace import Workspace

LOG_FILE = "audit.jsonl"
HEAD_FILE = "audit.head"
LOCK_FILE = "audit.lock"
GENESIS = "0" * 64


class AuditReport(BaseModel):
    ok: bool
    entries: int
    first_bad: int | None
    message: str


def canonical(data: Any) -> str:
    """The one JSON spelling that is hashed: sorted keys, no spaces, UTF-8 text kept."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data).encode("utf-8")).hexdigest()


def _root(ws: Workspace | Path) -> Path:
    return ws if isinstance(ws, Path) else ws.root


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    with (root / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _last_line(path: Path) -> str | None:
    """The newest line, read backwards from the end (appends stay O(1) in the log's length)."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        if end == 0:
            return None
        block, data = 4096, b""
        position = end
        while position > 0:
            step = min(block, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
            if data.rstrip(b"\n").count(b"\n") >= 1:
                break
        return data.rstrip(b"\n").split(b"\n")[-1].decode("utf-8")


def _read_head(root: Path) -> tuple[int, str, int] | None:
    """(newest id, its hash, log size after it) from the head file, or None."""
    try:
        fields = (root / HEAD_FILE).read_text(encoding="ascii").split()
        return int(fields[0]), fields[1], int(fields[2])
    except (OSError, ValueError, IndexError):
        return None


def _head_line(entry_id: int, entry_hash: str, size: int) -> bytes:
    """Fixed width, so it is rewritten in place with one small write (no new file per append)."""
    return f"{entry_id:012d} {entry_hash} {size:016d}\n".encode("ascii")


def append(ws: Workspace | Path, kind: str, inputs: dict[str, Any], decision: dict[str, Any],
           at: str | None = None, durable: bool = True) -> dict[str, Any]:
    """Append one entry under an exclusive lock; returns it (with its id and hash).

    The previous id and hash come from the head file when it matches the log's size (O(1)); after a
    crash between the two writes, from the log's last line. ``durable`` flushes the entry to disk
    (fdatasync) before returning.
    """
    root = _root(ws)
    path = root / LOG_FILE
    with _locked(root):
        size = path.stat().st_size if path.exists() else 0
        head = _read_head(root)
        if head is not None and head[2] == size:
            previous: tuple[int, str] | None = (head[0], head[1])
        else:
            last = _last_line(path)
            parsed = json.loads(last) if last else None
            previous = (parsed["id"], parsed["hash"]) if parsed else None
        entry: dict[str, Any] = {
            "id": (previous[0] + 1) if previous else 1, "kind": kind,
            "at": at or datetime.now(UTC).isoformat(timespec="microseconds"),
            "prev_hash": previous[1] if previous else GENESIS,
            "inputs_hash": digest(inputs), "inputs": inputs, "decision": decision}
        entry["hash"] = digest(entry)
        line = (canonical(entry) + "\n").encode("utf-8")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            if durable:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        fd = os.open(root / HEAD_FILE, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, _head_line(entry["id"], entry["hash"], size + len(line)), 0)
        finally:
            os.close(fd)
    return entry


def entries(ws: Workspace | Path) -> Iterator[dict[str, Any]]:
    path = _root(ws) / LOG_FILE
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def entry(ws: Workspace | Path, entry_id: int) -> dict[str, Any]:
    for item in entries(ws):
        if item.get("id") == entry_id:
            return item
    raise InputError(f"no audit entry {entry_id}", file=str(_root(ws) / LOG_FILE))


def verify(ws: Workspace | Path) -> AuditReport:
    """Re-hash every entry and the chain; compare the newest entry with the head file."""
    root = _root(ws)
    path = root / LOG_FILE
    if not path.exists():
        head_exists = (root / HEAD_FILE).exists()
        return AuditReport(ok=not head_exists, entries=0, first_bad=1 if head_exists else None,
                           message="the audit log is missing but its head says entries were written" if head_exists
                           else "empty audit log")
    previous_hash, count, last_hash = GENESIS, 0, GENESIS
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            def bad(why: str, number: int = number) -> AuditReport:
                return AuditReport(ok=False, entries=number - 1, first_bad=number, message=f"entry {number}: {why}")
            try:
                item = json.loads(line)
                stored = item.pop("hash")
            except (ValueError, KeyError, AttributeError):
                return bad("not a valid entry line")
            if item.get("id") != number:
                return bad(f"id {item.get('id')} where {number} was expected (an entry was deleted or moved)")
            if item.get("prev_hash") != previous_hash:
                return bad("does not chain to the entry before it (deleted, inserted or reordered)")
            if digest(item) != stored:
                return bad("its content does not match its hash (edited)")
            if item.get("inputs_hash") != digest(item.get("inputs")):
                return bad("its inputs do not match their hash (edited)")
            previous_hash = last_hash = stored
            count = number
    head = _read_head(root)
    if head is None and (root / HEAD_FILE).exists():
        return AuditReport(ok=False, entries=count, first_bad=None, message="the audit head file is unreadable")
    if head is not None:
        head_id, head_hash, _ = head
        if head_id > count:
            return AuditReport(ok=False, entries=count, first_bad=count + 1,
                               message=f"the log ends at entry {count} but entry {head_id} was written (truncated)")
        if head_id == count and head_hash != last_hash:
            return AuditReport(ok=False, entries=count, first_bad=count,
                               message=f"entry {count} differs from the one recorded as newest (rewritten)")
    return AuditReport(ok=True, entries=count, first_bad=None, message=f"{count} entries, chain intact")


def replay(ws: Workspace, entry_id: int) -> Decision:
    """Recompute a logged decision from the entry's recorded inputs (same policy and model versions)."""
    from chainlight.risk.decide import replay_entry
    return replay_entry(ws, entry(ws, entry_id))
