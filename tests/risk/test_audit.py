"""The audit log: chained entries; any edit, deletion, truncation or reordering is found; concurrent appends stay chained."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainlight.cli import app
from chainlight.risk import audit


def fill(root: Path, n: int = 5) -> None:
    for i in range(n):
        audit.append(root, "decision", {"uscc": f"U{i}", "amount": 1000.0 * (i + 1)}, {"decision": "approve", "i": i})


def lines(root: Path) -> list[str]:
    return (root / audit.LOG_FILE).read_text(encoding="utf-8").splitlines(keepends=True)


def write(root: Path, rows: list[str]) -> None:
    (root / audit.LOG_FILE).write_text("".join(rows), encoding="utf-8")


def test_intact_chain_verifies(tmp_path: Path) -> None:
    fill(tmp_path)
    report = audit.verify(tmp_path)
    assert report.ok and report.entries == 5 and report.first_bad is None
    entries = list(audit.entries(tmp_path))
    assert [e["id"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == audit.GENESIS and entries[1]["prev_hash"] == entries[0]["hash"]


def test_empty_log_is_ok(tmp_path: Path) -> None:
    assert audit.verify(tmp_path).ok


def test_edit_is_detected(tmp_path: Path) -> None:
    fill(tmp_path)
    rows = lines(tmp_path)
    rows[2] = rows[2].replace('"amount":3000.0', '"amount":9000.0')
    write(tmp_path, rows)
    report = audit.verify(tmp_path)
    assert not report.ok and report.first_bad == 3 and "edited" in report.message


def test_edit_with_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    fill(tmp_path)
    rows = lines(tmp_path)
    entry = json.loads(rows[1])
    entry["decision"]["decision"] = "decline"
    entry.pop("hash")
    entry["hash"] = audit.digest(entry)
    rows[1] = audit.canonical(entry) + "\n"
    write(tmp_path, rows)
    report = audit.verify(tmp_path)
    assert not report.ok and report.first_bad == 3


def test_deletion_is_detected(tmp_path: Path) -> None:
    fill(tmp_path)
    rows = lines(tmp_path)
    del rows[1]
    write(tmp_path, rows)
    report = audit.verify(tmp_path)
    assert not report.ok and report.first_bad == 2


def test_truncation_of_the_newest_entries_is_detected(tmp_path: Path) -> None:
    fill(tmp_path)
    write(tmp_path, lines(tmp_path)[:-2])
    report = audit.verify(tmp_path)
    assert not report.ok and report.first_bad == 4 and "truncated" in report.message


def test_reordering_is_detected(tmp_path: Path) -> None:
    fill(tmp_path)
    rows = lines(tmp_path)
    rows[1], rows[2] = rows[2], rows[1]
    write(tmp_path, rows)
    report = audit.verify(tmp_path)
    assert not report.ok and report.first_bad == 2


def test_garbage_line_is_detected(tmp_path: Path) -> None:
    fill(tmp_path, 2)
    write(tmp_path, [*lines(tmp_path), "not json\n"])
    assert audit.verify(tmp_path).first_bad == 3


def _worker(root: str, tag: str, n: int) -> None:
    for i in range(n):
        audit.append(Path(root), "decision", {"who": tag, "i": i}, {"decision": "refer"})


def test_concurrent_appends_from_two_processes_stay_chained(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(str(tmp_path), tag, 40)) for tag in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    report = audit.verify(tmp_path)
    assert report.ok and report.entries == 80
    assert sorted((e["inputs"]["who"], e["inputs"]["i"]) for e in audit.entries(tmp_path)) == \
        sorted((t, i) for t in ("a", "b") for i in range(40))


def test_concurrent_threads_share_flushes_and_return_only_when_durable(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Group commit: six threads append at once; the first flushes are held until all six have written,
    so at most three flushes (two in flight, then one for the rest) cover them, and no append returns
    before a flush covered its line."""
    threads, real_fdatasync = 6, os.fdatasync
    flushed_sizes: list[int] = []

    def counting_fdatasync(fd: int) -> None:
        if not flushed_sizes:  # hold the first flush until every thread has written its entry
            deadline = time.monotonic() + 30
            while len(lines(tmp_path)) < threads and time.monotonic() < deadline:
                time.sleep(0.001)
        size = os.fstat(fd).st_size
        real_fdatasync(fd)
        flushed_sizes.append(size)

    monkeypatch.setattr(os, "fdatasync", counting_fdatasync)
    returned: list[tuple[int, int]] = []  # (entry id, bytes known durable when append returned)

    def one(i: int) -> None:
        entry = audit.append(tmp_path, "decision", {"i": i}, {"decision": "approve"})
        returned.append((entry["id"], max(flushed_sizes, default=0)))

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert audit.verify(tmp_path).ok and audit.verify(tmp_path).entries == threads
    assert all(row == audit.canonical(json.loads(row)) + "\n" for row in lines(tmp_path))  # one spelling
    assert 1 <= len(flushed_sizes) <= audit.MAX_FLUSHES + 1 < threads
    ends = {json.loads(row)["id"]: offset for row, offset in
            zip(lines(tmp_path), itertools.accumulate(len(r.encode()) for r in lines(tmp_path)), strict=True)}
    assert sorted(i for i, _ in returned) == list(range(1, threads + 1))
    assert all(ends[entry_id] <= durable for entry_id, durable in returned)
    head = (tmp_path / audit.HEAD_FILE).read_text().split()
    assert int(head[0]) == threads and int(head[2]) == (tmp_path / audit.LOG_FILE).stat().st_size


@pytest.mark.parametrize("caller", ["thread", "coroutine"])
def test_a_failed_flush_is_an_error_not_a_durable_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        caller: str) -> None:
    """``append`` and ``append_async`` alike: the caller whose flush failed gets the error; the next
    append flushes both entries once the disk works."""
    import asyncio

    def append(i: int) -> dict[str, object]:
        if caller == "thread":
            return audit.append(tmp_path, "decision", {"i": i}, {"decision": "refer"})
        return asyncio.run(audit.append_async(tmp_path, "decision", {"i": i}, {"decision": "refer"}))

    fill(tmp_path, 1)

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patched:
        patched.setattr(os, "fdatasync", broken)
        with pytest.raises(OSError):
            append(1)
    assert append(2)["id"] == 3
    report = audit.verify(tmp_path)
    assert report.ok and report.entries == 3


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    fill(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--workspace", str(tmp_path)])
    assert ok.exit_code == 0 and "5 entries" in ok.output
    rows = lines(tmp_path)
    del rows[0]
    write(tmp_path, rows)
    broken = runner.invoke(app, ["audit", "verify", "--workspace", str(tmp_path)])
    assert broken.exit_code == 1 and "audit log broken" in broken.output
    missing = runner.invoke(app, ["audit", "verify", "--workspace", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_coroutines_append_in_batches_that_are_durable_before_they_return(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``append_async``: forty coroutines at once on one loop, mixed with a thread's ``append``. The lines
    are the ones ``append`` writes (one spelling, one chain), every coroutine gets its own entry, no
    entry is returned before a flush covered its line, and the batches need far fewer flushes than entries."""
    import asyncio

    fill(tmp_path, 2)
    real_fdatasync = os.fdatasync
    flushed_sizes: list[int] = []

    def counting_fdatasync(fd: int) -> None:
        size = os.fstat(fd).st_size
        time.sleep(0.01)  # a slow disk, so entries queue up behind a flush
        real_fdatasync(fd)
        flushed_sizes.append(size)

    monkeypatch.setattr(os, "fdatasync", counting_fdatasync)
    returned: list[tuple[int, int]] = []

    async def one(i: int) -> dict[str, object]:
        entry = await audit.append_async(tmp_path, "decision", {"i": i, "text": "发票 ü"}, {"decision": "approve"})
        returned.append((int(entry["id"]), max(flushed_sizes, default=0)))  # type: ignore[call-overload]
        return entry

    async def many() -> list[dict[str, object]]:
        side = asyncio.get_running_loop().run_in_executor(
            None, lambda: audit.append(tmp_path, "decision", {"thread": True}, {"decision": "refer"}))
        got = await asyncio.gather(*(one(i) for i in range(40)))
        await side
        return got

    got = asyncio.run(many())
    report = audit.verify(tmp_path)
    assert report.ok and report.entries == 43
    assert all(row == audit.canonical(json.loads(row)) + "\n" for row in lines(tmp_path))
    on_disk = {e["id"]: e for e in audit.entries(tmp_path)}
    assert sorted(int(e["id"]) for e in got) == sorted(set(int(e["id"]) for e in got))  # type: ignore[call-overload]
    assert all(on_disk[e["id"]]["inputs"] == e["inputs"] and on_disk[e["id"]]["hash"] == e["hash"] for e in got)
    ends = {json.loads(row)["id"]: offset for row, offset in
            zip(lines(tmp_path), itertools.accumulate(len(r.encode()) for r in lines(tmp_path)), strict=True)}
    assert all(ends[entry_id] <= durable for entry_id, durable in returned)
    assert len(flushed_sizes) < 20
    deadline = time.monotonic() + 10  # the head file moves just after a batch is answered
    while int((tmp_path / audit.HEAD_FILE).read_text().split()[0]) < 43 and time.monotonic() < deadline:
        time.sleep(0.01)
    head = (tmp_path / audit.HEAD_FILE).read_text().split()
    assert int(head[0]) == 43 and int(head[2]) == (tmp_path / audit.LOG_FILE).stat().st_size
