"""The Spark warehouse's safety rules: one writer at a time (a second waits or fails with one clear line),
and replaced version folders kept long enough for readers still on the previous manifest."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engines import SPARK_TEST_CONF, require_spark, spark_session  # fixtures: imported, not a conftest (see engines.py)

from chainlight.errors import ChainlightError

pytest.importorskip("sqlglot", reason="the spark engine needs the [spark] extra")
from chainlight.engine.spark_engine import LOCK_FILE, SparkEngine, WarehouseLocked, WriterLock  # noqa: E402

HOLD = "from pathlib import Path; import sys; from chainlight.engine.spark_engine import WriterLock\n" \
       "lock = WriterLock(Path(sys.argv[1])); print('held', flush=True); sys.stdin.readline(); lock.release()"


def test_a_second_writer_process_fails_with_the_holder_named(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / LOCK_FILE)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseLocked) as caught:
            WriterLock(tmp_path / LOCK_FILE, wait=0.3)
        message = str(caught.value)
        assert f"pid {holder.pid}" in message and "another writer" in message and "\n" not in message
        assert isinstance(caught.value, ChainlightError)  # the CLI prints it as one error line
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    WriterLock(tmp_path / LOCK_FILE).release()  # released by the holder: free again


def test_a_second_writer_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    first = WriterLock(tmp_path / LOCK_FILE)
    threading.Timer(0.5, first.release).start()
    started = time.monotonic()
    second = WriterLock(tmp_path / LOCK_FILE, wait=20)
    assert time.monotonic() - started >= 0.4  # it did wait
    second.release()


def test_a_dead_writer_leaves_no_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / LOCK_FILE)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=30)
    WriterLock(tmp_path / LOCK_FILE).release()


def _version(engine: SparkEngine, value: float) -> None:
    engine.write_arrow("t", pa.table({"v": [value, value]}))


def _folders(warehouse: Path) -> set[str]:
    return {str(p.relative_to(warehouse)) for p in (warehouse / "tables" / "t").iterdir()}


@pytest.mark.spark
def test_spark_engines_on_one_warehouse_one_writer_many_readers(spark_session: Any, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    writer = SparkEngine(warehouse, conf=SPARK_TEST_CONF)
    try:
        _version(writer, 1.0)
        with pytest.raises(WarehouseLocked):
            SparkEngine(warehouse, conf=SPARK_TEST_CONF)
        reader = SparkEngine(warehouse, conf=SPARK_TEST_CONF, read_only=True)  # readers take no lock
        assert reader.scalar("SELECT sum(v) FROM t") == 2.0
        _version(writer, 2.0)  # the reader is still on the previous manifest's folder: it must stay
        assert reader.scalar("SELECT sum(v) FROM t") == 2.0
        assert writer.scalar("SELECT sum(v) FROM t") == 4.0
        assert len(_folders(warehouse)) == 2
        reader.close()
    finally:
        writer.close()
    again = SparkEngine(warehouse, conf=SPARK_TEST_CONF)  # closed: the next writer gets in
    assert again.scalar("SELECT sum(v) FROM t") == 4.0
    again.close()


@pytest.mark.spark
def test_replaced_folders_are_deleted_once_the_retention_has_passed(spark_session: Any, tmp_path: Path) -> None:
    require_spark()
    warehouse = tmp_path / "wh"
    engine = SparkEngine(warehouse, conf=SPARK_TEST_CONF, retain_seconds=0.5)
    try:
        _version(engine, 1.0)
        first = _folders(warehouse)
        _version(engine, 2.0)
        assert first < _folders(warehouse)  # kept: replaced less than 0.5 s ago
        time.sleep(0.6)
        _version(engine, 3.0)  # this publication deletes what expired; the one it replaces waits its turn
        assert not first & _folders(warehouse)
        assert len(_folders(warehouse)) == 2
        assert engine.scalar("SELECT sum(v) FROM t") == 6.0
    finally:
        engine.close()
