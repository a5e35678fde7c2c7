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

import asyncio
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


def _object(parts: dict[str, str]) -> str:
    """``canonical`` of an object whose values are given already spelt canonically."""
    return "{" + ",".join(f"{canonical(k)}:{parts[k]}" for k in sorted(parts)) + "}"


def _root(ws: Workspace | Path) -> Path:
    return ws if isinstance(ws, Path) else ws.root


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


MAX_FLUSHES = 2  # flushes of one log in flight at once in one process
MAX_WRITERS = 4  # writer threads of one log for coroutines (one may be moving the head while others write)


@dataclass(frozen=True)
class _Pending:
    """An entry to write, with its inputs and decision already spelt canonically (outside any lock)."""

    kind: str
    inputs: dict[str, Any]
    decision: dict[str, Any]
    at: str | None
    inputs_json: str
    decision_json: str
    inputs_hash: str

    @classmethod
    def of(cls, kind: str, inputs: dict[str, Any], decision: dict[str, Any], at: str | None) -> _Pending:
        inputs_json = canonical(inputs)
        return cls(kind, inputs, decision, at, inputs_json, canonical(decision),
                   hashlib.sha256(inputs_json.encode("utf-8")).hexdigest())


class _Log:
    """This process's writer for one workspace's log: appends from many threads, one fdatasync per group.

    Group commit: a caller writes its entry under the cross-process ``flock`` (held only for the write,
    not for the flush), then waits until the log is durable up to it. A coroutine's entry goes through
    a queue to this log's writer threads instead, which write and flush whole batches (``submit``). A flush (fdatasync) covers
    everything this process had written when it started; threads that wrote later start the next one
    (at most ``MAX_FLUSHES`` at once), so N concurrent decisions cost a few flushes, not N, and each
    caller returns only once its own entry is on disk. The head file is rewritten after a flush, so it
    never names an entry that is not durable (a crash cannot make a good log look truncated).
    """

    def __init__(self, root: Path) -> None:
        self.root, self.path = root, root / LOG_FILE
        self.mutex = threading.Lock()  # this process's writers, one at a time (flock is per open file)
        self.flushed = threading.Condition()
        self.in_flight: list[int] = []  # the goal (sequence number) of each flush under way
        self.written = 0  # entries this process wrote (a sequence number)
        self.durable = 0  # of those, how many are known to be on disk
        self.newest: tuple[int, str, int] | None = None  # (id, hash, log size) of the newest written here
        self.tail: tuple[tuple[int, int, int], int, str] | None = None  # (log stamp, id, hash) after our write
        self.fd: int | None = None  # the log, opened for appending
        self.lock_fd: int | None = None
        self.queued = threading.Condition()  # the coroutines' entries (``submit``) and their writer threads
        self.queue: list[tuple[_Pending, bool, asyncio.AbstractEventLoop, asyncio.Future[dict[str, Any]]]] = []
        self.writers: list[threading.Thread] = []
        self.idle = 0  # writer threads waiting for entries

    # -- under the locks ------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        """This process's mutex, then the cross-process flock on ``audit.lock`` (re-opened if replaced)."""
        with self.mutex:
            lock_path = self.root / LOCK_FILE
            while True:
                if self.lock_fd is None:
                    self.lock_fd = os.open(lock_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
                try:
                    same = os.stat(lock_path).st_ino == os.fstat(self.lock_fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(self.lock_fd)  # closing releases the lock on the stale file
                self.lock_fd = None
            try:
                yield
            finally:
                fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def _log_fd(self) -> int:
        """The log opened for appending; re-opened (after flushing the old one) when the file was replaced."""
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = None
        if self.fd is not None and current != os.fstat(self.fd).st_ino:
            os.fdatasync(self.fd)  # entries already written to the replaced file are made durable first
            os.close(self.fd)
            self.fd, self.tail = None, None
        if self.fd is None:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self.fd

    def _previous(self, fd: int) -> tuple[tuple[int, str] | None, tuple[int, int, int]]:
        """(newest id and hash, or None for an empty log; the log's stamp). O(1): our own last write when
        nobody wrote since, else the head file when it matches the size, else the log's last line."""
        st = os.fstat(fd)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self.tail is not None and self.tail[0] == stamp:
            return (self.tail[1], self.tail[2]), stamp
        head = _read_head(self.root)
        if head is not None and head[2] == st.st_size:
            return (head[0], head[1]), stamp
        last = _last_line(self.path)
        parsed = json.loads(last) if last else None
        return ((parsed["id"], parsed["hash"]) if parsed else None), stamp

    def write(self, kind: str, inputs: dict[str, Any], decision: dict[str, Any], at: str | None,
              durable: bool) -> tuple[dict[str, Any], int]:
        """Chain and write one entry (not yet flushed); returns it and its sequence number."""
        return self.write_many([_Pending.of(kind, inputs, decision, at)], durable)[0]

    def write_many(self, pending: list[_Pending], durable: bool) -> list[tuple[dict[str, Any], int]]:
        """Chain entries and write them with one ``write`` under one lock (not yet flushed); returns each
        entry and its sequence number.

        The inputs and the decisions were spelt canonically outside the lock (``_Pending``); each entry's
        text is assembled from them (``_object``), the same text ``canonical(entry)`` gives."""
        out: list[tuple[dict[str, Any], int]] = []
        with self._locked():
            fd = self._log_fd()
            previous, stamp = self._previous(fd)
            lines = []
            for item in pending:
                entry: dict[str, Any] = {
                    "id": (previous[0] + 1) if previous else 1, "kind": item.kind,
                    "at": item.at or datetime.now(UTC).isoformat(timespec="microseconds"),
                    "prev_hash": previous[1] if previous else GENESIS, "inputs_hash": item.inputs_hash}
                parts = {k: canonical(v) for k, v in entry.items()}
                parts.update(inputs=item.inputs_json, decision=item.decision_json)
                entry.update(inputs=item.inputs, decision=item.decision)
                entry["hash"] = hashlib.sha256(_object(parts).encode("utf-8")).hexdigest()
                parts["hash"] = canonical(entry["hash"])
                lines.append((_object(parts) + "\n").encode("utf-8"))
                previous = (entry["id"], entry["hash"])
                self.written += 1
                out.append((entry, self.written))
            assert previous is not None  # at least one entry was chained
            data = b"".join(lines)
            os.write(fd, data)
            st = os.fstat(fd)
            self.tail = ((st.st_ino, st.st_size, st.st_mtime_ns), previous[0], previous[1])
            self.newest = (previous[0], previous[1], stamp[1] + len(data))
            if not durable:  # nothing waits for a flush: the head follows at once
                _write_head(self.root, self.newest)
        return out

    # -- coroutines: a queue and writer threads ----------------------------------------------------
    def submit(self, item: _Pending, durable: bool) -> asyncio.Future[dict[str, Any]]:
        """Queue an entry for this log's writer threads; the future (of the running loop) gets the entry
        once it is written and, if ``durable``, on disk.

        Each writer takes everything queued, writes it with one ``write`` and flushes it once (group
        commit with ``wait_durable``, so at most ``MAX_FLUSHES`` are in flight), then settles the batch's
        futures with one wake-up per event loop. No thread waits per entry and the event loop never
        waits for the flock."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        with self.queued:
            self.queue.append((item, durable, loop, future))
            if len(self.writers) < MAX_WRITERS and self.idle == 0:
                thread = threading.Thread(target=self._writer, name="chainlight-audit-writer", daemon=True)
                self.writers.append(thread)
                thread.start()
            else:
                self.queued.notify()
        return future

    def _writer(self) -> None:
        while True:
            with self.queued:
                self.idle += 1
                while not self.queue:
                    self.queued.wait()
                self.idle -= 1
                batch, self.queue = self.queue, []
            self._commit(batch)

    def _commit(self, batch: list[tuple[_Pending, bool, asyncio.AbstractEventLoop, asyncio.Future[dict[str, Any]]]]
                ) -> None:
        """Write a batch, flush it if any entry must be durable, and answer its coroutines as soon as it
        is on disk (before the head file moves) or with the error that stopped it."""
        answered = False

        def answer(outcome: list[tuple[dict[str, Any], int]] | BaseException) -> None:
            nonlocal answered
            answered = True
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[dict[str, Any]], Any]]] = {}
            for number, (_, _, loop, future) in enumerate(batch):
                by_loop.setdefault(loop, []).append(
                    (future, outcome if isinstance(outcome, BaseException) else outcome[number][0]))
            for loop, futures in by_loop.items():
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_settle, futures)

        try:
            written = self.write_many([b[0] for b in batch], any(b[1] for b in batch))
            if any(b[1] for b in batch):
                self.wait_durable(written[-1][1], lambda: answer(written))
            else:
                answer(written)
        except BaseException as exc:  # the callers get the error (a failed flush marks nothing durable)
            if not answered:
                answer(exc)

    # -- group commit ----------------------------------------------------------------------------
    def wait_durable(self, sequence: int, durable: Callable[[], None] | None = None) -> None:
        """Return once entry ``sequence`` of this process is on disk; ``durable`` is called as soon as it
        is, before this caller's flush (if it made one) moves the head file.

        A caller whose entry an in-flight flush covers waits for it; otherwise it starts a flush at once
        (up to ``MAX_FLUSHES`` in flight: waiting for an in-flight flush that does not cover the entry
        would cost up to a flush more), else waits for one to end and looks again."""
        while True:
            with self.flushed:
                while self.durable < sequence and not self._may_flush(sequence):
                    self.flushed.wait()
                if self.durable >= sequence:
                    if durable is not None:
                        durable()
                    return
                claim = self._claim()
            newest = self._flush(*claim)
            if self.durable >= sequence and durable is not None:
                durable()
                durable = None
            if newest is not None:
                with self._locked():
                    _write_head(self.root, newest)

    def _may_flush(self, sequence: int) -> bool:
        """Whether a caller waiting for ``sequence`` should start a flush now (under ``flushed``)."""
        return max(self.in_flight, default=0) < sequence and len(self.in_flight) < MAX_FLUSHES

    def _claim(self) -> tuple[int | None, int, tuple[int, str, int] | None]:
        """Start a flush of everything written so far (under ``flushed``): (fd, goal, newest)."""
        with self.mutex:  # no fd: ``close`` flushed everything written before it
            fd, goal, newest = (os.dup(self.fd) if self.fd is not None else None), self.written, self.newest
        self.in_flight.append(goal)
        return fd, goal, newest

    def _flush(self, fd: int | None, goal: int, newest: tuple[int, str, int] | None) -> tuple[int, str, int] | None:
        """fdatasync everything written before the claim, mark it durable and wake every waiter; returns
        the newest entry for the head file (the caller moves it). A failed flush marks nothing durable
        and raises (the waiters look again)."""
        done = False
        try:
            if fd is not None:
                os.fdatasync(fd)  # everything written to the log before this call, the claimer's included
            done = True
        finally:
            if fd is not None:
                os.close(fd)
            with self.flushed:
                self.in_flight.remove(goal)
                if done:
                    self.durable = max(self.durable, goal)
                self.flushed.notify_all()
        return newest

    def close(self) -> None:
        """Flush and close the files (a writer still holding this object re-opens them)."""
        with self.mutex:
            if self.fd is not None:
                os.fdatasync(self.fd)
                os.close(self.fd)
            if self.lock_fd is not None:
                os.close(self.lock_fd)
            self.fd = self.lock_fd = self.tail = None


def _settle(settled: list[tuple[asyncio.Future[dict[str, Any]], Any]]) -> None:
    for future, outcome in settled:
        if future.done():  # the caller went away
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _write_head(root: Path, newest: tuple[int, str, int]) -> None:
    """Record the newest entry in the head file unless a newer one is there already (another process)."""
    head = _read_head(root)
    if head is not None and head[0] >= newest[0]:
        return
    fd = os.open(root / HEAD_FILE, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, _head_line(*newest), 0)
    finally:
        os.close(fd)


_LOGS: dict[Path, _Log] = {}  # insertion order: the oldest is closed when there are too many
_LOGS_LOCK = threading.Lock()
MAX_OPEN_LOGS = 16


def _log(root: Path) -> _Log:
    """This process's writer for ``root`` (keyed as spelt: two spellings get two writers, which the
    flock keeps apart; resolving the path on every append would cost more than the append)."""
    with _LOGS_LOCK:
        log = _LOGS.get(root)
        if log is None:
            log = _LOGS[root] = _Log(root)
            if len(_LOGS) > MAX_OPEN_LOGS:
                _LOGS.pop(next(iter(_LOGS))).close()
        return log


def append(ws: Workspace | Path, kind: str, inputs: dict[str, Any], decision: dict[str, Any],
           at: str | None = None, durable: bool = True) -> dict[str, Any]:
    """Append one entry; returns it (with its id and hash). Safe from any number of threads and processes.

    ``durable`` returns only once the entry is on disk (fdatasync); concurrent callers share flushes
    (group commit, see ``_Log``). The chain is exact either way: ids and hashes are assigned under the
    cross-process lock, in file order.
    """
    log = _log(_root(ws))
    entry, sequence = log.write(kind, inputs, decision, at, durable)
    if durable:
        log.wait_durable(sequence)
    return entry


async def append_async(ws: Workspace | Path, kind: str, inputs: dict[str, Any], decision: dict[str, Any],
                       at: str | None = None, durable: bool = True) -> dict[str, Any]:
    """``append`` for a coroutine on an event loop: the entry is spelt here, then written and flushed
    with whatever else is queued by this log's writer threads (``_Log.submit``); the same chain, lines
    and durability as ``append``."""
    return await _log(_root(ws)).submit(_Pending.of(kind, inputs, decision, at), durable)


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
