"""Fuzzing ingest (issue 12): arbitrary bytes, and arbitrary mutations of a valid CSV or JSONL file.

Whatever the file holds, ingest must not fail inside: the file is either named in one error line or
every one of its rows is loaded or quarantined (rows_in = loaded + quarantined, and the tables agree),
and the other file of the same call (a good ``bureau.csv``) is loaded. Examples are bounded so the
suite stays fast; hypothesis keeps what it finds in its example database for the next run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainlight import ingest
from chainlight.config import Config
from chainlight.workspace import Workspace

A, B = "914403001922038216", "91440300708461136T"
BUREAU = "uscc,max_overdue_days,open_litigations,tax_arrears,blacklisted\n" f"{A},0,0,false,false\n{B},3,1,true,false\n"
VALID_CSV = ("invoice_id,seller_uscc,buyer_name,buyer_uscc,item_name,tax_code,amount,issue_date,status\n" + "".join(
    f'I{i},{A},"腾讯科技, 深圳",{B},基站设备,1090511,"1,{i}00.50",2024-03-0{i},{s}\n'
    for i, s in enumerate(["normal", "voided", "红冲", "normal", "正常"], start=1))).encode("utf-8")
VALID_JSONL = "".join(json.dumps({"report_id": f"R{i}", "title": "汽车", "published": f"2024-05-0{i}",
                                  "text": "整车需求增长 \"引号\""}, ensure_ascii=False) + "\n"
                      for i in range(1, 6)).encode("utf-8")
RAM_DISK = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # a workspace per example: skip the disk syncs
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPECIAL = [b"\x00", b"\xff", b"\x80", b"\xe4\xb8", b'"', b",", b"\n", b"\r", b"\r\n", b"\t", b"\xef\xbb\xbf", b"{", b"}",
           b"[", b"\\", b"\\ud800", b"v_status", b"_problem", b"AMOUNT", "中".encode("gbk"), b"1e999", b"-5"]


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with a few byte-level edits: insert, delete, replace, repeat a span, or truncate."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["insert", "delete", "replace", "repeat", "truncate"]))
        piece = draw(st.one_of(st.sampled_from(SPECIAL), st.binary(min_size=1, max_size=8)))
        if edit == "insert":
            data[at:at] = piece
        elif edit == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif edit == "replace":
            data[at:at + len(piece)] = piece
        elif edit == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 80))]
        else:
            del data[at:]
    return bytes(data)


def check_one_call(name: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory(dir=RAM_DISK) as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        (folder / "bureau.csv").write_text(BUREAU, encoding="utf-8")
        (folder / name).write_bytes(content)
        with Workspace(Path(tmp) / "ws", Config()) as ws:
            report = ingest.run(ws, Config(), [folder])
            by_name = {Path(r.file).name: r for r in report.files}
            assert by_name["bureau.csv"].error is None and by_name["bureau.csv"].rows_loaded == 2, by_name["bureau.csv"]
            result = by_name[name]
            if result.error is not None:
                assert name in result.error and "\n" not in result.error, result.error
                assert "unexpected failure" not in result.error, result.error
                assert not ws.engine.scalar("SELECT count(*) FROM ingest_files WHERE file = $f",
                                            {"f": str((folder / name).resolve())})
                return
            assert result.rows_in == result.rows_loaded + result.rows_quarantined, result
            key = str((folder / name).resolve())
            assert ws.engine.scalar("SELECT count(*) FROM quarantine WHERE file = $f", {"f": key}) == result.rows_quarantined
            table = result.table
            assert table is not None
            assert ws.engine.scalar(f"SELECT count(*) FROM {table} WHERE _file = $f", {"f": key}) == result.rows_loaded


@FUZZ
@given(name=st.sampled_from(["invoices.csv", "reports.jsonl", "enterprises.tsv", "products.parquet"]),
       content=st.binary(max_size=400))
def test_arbitrary_bytes(name: str, content: bytes) -> None:
    check_one_call(name, content)


@FUZZ
@given(content=mutated(VALID_CSV), encoding=st.sampled_from(["utf-8", "gbk"]))
def test_mutated_csv(content: bytes, encoding: str) -> None:
    if encoding == "gbk":
        content = content.decode("utf-8", "surrogateescape").encode("gb18030", "surrogateescape")
    check_one_call("invoices.csv", content)


@FUZZ
@given(content=mutated(VALID_JSONL))
def test_mutated_jsonl(content: bytes) -> None:
    check_one_call("reports.jsonl", content)
