"""Ingest under hostile input (issue 12): a table of files a hostile or careless sender might send and
what ingest must do with each: load it right, quarantine the bad rows with a reason, or name the file
in one error, and in every case still load the other files of the same call.

Each case is input → expected outcome per file; a good ``bureau.csv`` rides along in every call and
must always load. Cases that need a second call or a value look are plain tests further down.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chainlight import ingest
from chainlight.config import Config
from chainlight.workspace import Workspace

A, B, C = "914403001922038216", "91440300708461136T", "91110108551385082Q"
ENT = "uscc,name,scope,industry_code,province,city,founded,registered_capital,high_tech"
INV = "invoice_id,seller_uscc,buyer_name,buyer_uscc,item_name,tax_code,amount,issue_date,status"
BUREAU = "uscc,max_overdue_days,open_litigations,tax_arrears,blacklisted\n" f"{A},0,0,false,false\n{B},3,1,true,false\n"


def inv(invoice_id: str, amount: str = "100", status: str = "normal", item: str = "服务器") -> str:
    return f"{invoice_id},{A},腾讯科技,{B},{item},1090511,{amount},2024-03-01,{status}"


def csv_bytes(header: str, *rows: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode(encoding)


def jsonl(*records: dict[str, str] | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                   for r in records).encode("utf-8")


def report(report_id: str, **extra: str) -> dict[str, str]:
    return {"report_id": report_id, "title": "汽车", "published": "2024-05-01", "text": "整车需求增长", **extra}


def parquet_bytes(table: pa.Table, tmp: Path) -> bytes:
    pq.write_table(table, tmp)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def big_utf8_invoices(rows: int, bad_at: int, bad: bytes = b"\xff") -> bytes:
    """Chinese-heavy UTF-8 invoices (about 3 bytes a character) with one bad byte in row ``bad_at``."""
    lines = [inv(f"I{i}", item="耐高温尼龙材料" * 6) for i in range(rows)]
    out = [INV.encode()]
    for i, line in enumerate(lines, start=1):
        data = line.encode("utf-8")
        out.append(data.replace("尼龙".encode(), bad, 1) if i == bad_at else data)
    return b"\n".join(out) + b"\n"


FIFO = b"<fifo>"
UNREADABLE_MARK = b"<unreadable>"


@dataclass(frozen=True)
class Link:
    target: str


Content = bytes | Link | Callable[[Path], bytes]


@dataclass(frozen=True)
class Loaded:
    loaded: int
    quarantined: int
    reason: str | None = None  # a fragment some quarantine reason of the file must hold


@dataclass(frozen=True)
class Failed:
    fragment: str  # the error names the file and holds this


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, Content]
    expect: dict[str, Loaded | Failed]
    args: list[str] | None = None  # paths given (relative to the folder); default: the folder itself
    sql: str | None = None  # a query whose rows must equal ``rows``
    rows: list[tuple[object, ...]] = field(default_factory=list)


CASES = [
    # 1. internal column names never collide with input names
    Case("extra-v_status-column", {"invoices.csv": csv_bytes(INV + ",v_status", inv("I1", "-5") + ",red")},
         {"invoices.csv": Loaded(0, 1, "negative amount")}),
    Case("extra-v_name-column", {"enterprises.csv": csv_bytes(
        ENT + ",v_name", f"{A},华为技术有限公司,通信,C3921,广东,深圳,1987-09-15,100,true,FAKE")},
         {"enterprises.csv": Loaded(1, 0)}, sql="SELECT name FROM enterprises", rows=[("华为技术有限公司",)]),
    Case("extra-_problem-column", {"invoices.csv": csv_bytes(INV + ",_problem", inv("I1", "") + ",", inv("I2") + ",x")},
         {"invoices.csv": Loaded(1, 1, "amount is required")}),
    Case("extra-_reason-and-_field-columns", {"invoices.csv": csv_bytes(
        INV + ",_reason,_field,_record", inv("I1", "-5") + ",,,", inv("I2") + ",bad,amount,{}")},
         {"invoices.csv": Loaded(1, 1, "negative amount")}, sql="SELECT invoice_id FROM invoices", rows=[("I2",)]),
    Case("extra-columns-named-like-the-internal-ones",
         {"invoices.csv": csv_bytes(INV + ",_c6,_v6,_v0", inv("I1", "-5") + ",5,5,X")},
         {"invoices.csv": Loaded(0, 1, "negative amount")}),
    Case("parquet-extra-v_amount-column", {"invoices.parquet": lambda tmp: parquet_bytes(pa.table({
        **{c: [v] for c, v in zip(INV.split(","), inv("I1", "-5").split(","), strict=True)}, "v_amount": ["5"]}), tmp)},
         {"invoices.parquet": Loaded(0, 1, "negative amount")}),
    Case("jsonl-extra-_problem-key", {"reports.jsonl": jsonl(report("R1", published="not a date", _problem=""))},
         {"reports.jsonl": Loaded(0, 1, "published is not a valid date")}),
    # 2. glob characters in a file name: read exactly the file named
    Case("glob-brackets-in-name", {"invoices_[ab].csv": csv_bytes(INV, inv("I1")), "invoices_a.csv": csv_bytes(INV, inv("I2"))},
         {"invoices_[ab].csv": Loaded(1, 0)}, args=["invoices_[ab].csv", "bureau.csv"],
         sql="SELECT invoice_id FROM invoices", rows=[("I1",)]),
    Case("glob-star-in-name", {"invoices_*.csv": csv_bytes(INV, inv("I1")), "invoices_b.csv": csv_bytes(INV, inv("I2"))},
         {"invoices_*.csv": Loaded(1, 0)}, args=["invoices_*.csv", "bureau.csv"],
         sql="SELECT invoice_id FROM invoices", rows=[("I1",)]),
    Case("glob-question-mark-parquet", {"bureau_?.parquet": lambda tmp: parquet_bytes(pa.table({
        "uscc": [C], "max_overdue_days": ["0"], "open_litigations": ["0"], "tax_arrears": ["no"], "blacklisted": ["no"]}), tmp),
        "bureau_x.parquet": lambda tmp: parquet_bytes(pa.table({
            "uscc": ["91330400MA2B00000X"], "max_overdue_days": ["0"], "open_litigations": ["0"], "tax_arrears": ["no"],
            "blacklisted": ["no"]}), tmp)},
         {"bureau_?.parquet": Loaded(1, 0)}, args=["bureau_?.parquet", "bureau.csv"],
         sql=f"SELECT uscc FROM bureau WHERE uscc = '{C}'", rows=[(C,)]),
    # 3. keys that differ only in case (or repeat) never override a value silently
    Case("jsonl-key-differs-in-case", {"reports.jsonl": jsonl(report("R1", TITLE="伪造"), report("R2"))},
         {"reports.jsonl": Loaded(1, 1, "title")}, sql="SELECT report_id FROM reports", rows=[("R2",)]),
    Case("jsonl-key-repeated", {"reports.jsonl": jsonl(
        '{"report_id": "R1", "title": "a", "title": "b", "published": "2024-05-01", "text": "x"}', report("R2"))},
         {"reports.jsonl": Loaded(1, 1, "title")}),
    Case("csv-header-differs-in-case", {"invoices.csv": csv_bytes(INV + ",AMOUNT", inv("I1") + ",5")},
         {"invoices.csv": Failed("repeats column(s) amount")}),
    # 5. unreadable files are named, the others of the call still load
    Case("binary-bytes-as-csv", {"products_x.csv": b"PK\x03\x04 x \x00\xff"}, {"products_x.csv": Failed("products_x.csv")}),
    Case("nul-bytes-in-csv", {"products.csv": b"uscc,product_name,description\n" + A.encode() + b",x\x00y,z\n"},
         {"products.csv": Failed("binary")}),
    Case("cr-only-line-endings",
         {"bureau_cr.csv": BUREAU.replace(A, C).replace(B, "91330400MA2B00000X").replace("\n", "\r").encode()},
         {"bureau_cr.csv": Loaded(1, 1, "checksum")}),
    Case("header-cell-over-128-kib", {"enterprises.csv": csv_bytes(ENT + "," + "x" * 200_000, "a")},
         {"enterprises.csv": Failed("header")}),
    Case("utf8-ends-mid-character", {"enterprises.csv": csv_bytes(
        ENT, f"{A},华为,通信,C3921,广东,深圳,1987-09-15,100,true")
        + f"{B},腾讯,软件,I6513,广东,深圳,1998-11-11,100,是".encode()[:-2]},
         {"enterprises.csv": Loaded(1, 1, "encoding")}),
    Case("gbk-ends-mid-character", {"enterprises.csv": csv_bytes(
        ENT, f"{A},华为,通信,C3921,广东,深圳,1987-09-15,100,true", encoding="gbk")
        + f"{B},腾讯,软件,I6513,广东,深圳,1998-11-11,100,是".encode("gbk")[:-1]},
         {"enterprises.csv": Loaded(1, 1, "encoding")}),
    Case("bad-byte-after-first-mib", {"invoices.csv": big_utf8_invoices(16_000, 12_000)},
         {"invoices.csv": Loaded(15_999, 1, "encoding")}),
    Case("undecodable-jsonl-line", {"reports.jsonl": jsonl(report("R1")) + b'{"report_id": "R2", "title": "\xff\xfe"}\n'},
         {"reports.jsonl": Loaded(1, 1, "not valid")}),
    Case("unreadable-file-in-folder", {"enterprises.csv": UNREADABLE_MARK}, {"enterprises.csv": Failed("permission denied")}),
    Case("missing-path-beside-good-files", {}, {"nope.csv": Failed("no such file")}, args=["nope.csv", "bureau.csv"]),
    # 6. a stray byte in a large UTF-8 file: that row is quarantined, the rest load
    Case("stray-byte-at-end-of-utf8", {"invoices.csv": big_utf8_invoices(3000, 0) + b"\x80"},
         {"invoices.csv": Loaded(3000, 1, "encoding")}),
    # 7. a FIFO is refused, not read; odd column names do not break the generated SQL
    Case("fifo-given-as-file", {"enterprises.csv": FIFO}, {"enterprises.csv": Failed("not a regular file")},
         args=["enterprises.csv", "bureau.csv"]),
    Case("quote-in-extra-column-name",
         {"invoices.csv": csv_bytes(INV + ',"a""b",\'c', inv("I1", "-5") + ",1,2", inv("I2") + ",3,4")},
         {"invoices.csv": Loaded(1, 1, "negative amount")},
         sql="SELECT json_extract_string(record, '$.\"a\\\"b\"') FROM quarantine WHERE table_name = 'invoices'", rows=[("1",)]),
    Case("jsonl-odd-keys", {"reports.jsonl": jsonl(report("R1", **{"": "e", 'q"': "x", "a'b": "y", "Ü": "z"}))},
         {"reports.jsonl": Loaded(1, 0)}),
    # 9. quietly surprising inputs, decided (README: data contract)
    Case("decimal-comma-amounts", {"invoices.csv": csv_bytes(
        INV, inv("I1", '"1.234,50"'), inv("I2", '"12,34"'), inv("I3", '"1,234.50"'), inv("I4", "¥1234.5"),
        inv("I5", '"1,234,567"'))},
         {"invoices.csv": Loaded(3, 2, "amount is not a number")},
         sql="SELECT invoice_id, amount FROM invoices ORDER BY 1", rows=[("I3", 1234.5), ("I4", 1234.5), ("I5", 1234567.0)]),
    Case("jsonl-with-bom", {"reports.jsonl": b"\xef\xbb\xbf" + jsonl(report("R1"), report("R2"))}, {"reports.jsonl": Loaded(2, 0)}),
    Case("parquet-text-stored-as-binary", {"reports.parquet": lambda tmp: parquet_bytes(pa.table({
        "report_id": pa.array([b"R1"], pa.binary()), "title": pa.array(["汽车".encode()], pa.binary()),
        "published": ["2024-05-01"], "text": pa.array(["整车".encode()], pa.large_binary())}), tmp)},
         {"reports.parquet": Loaded(1, 0)}, sql="SELECT title, text FROM reports", rows=[("汽车", "整车")]),
    Case("parquet-binary-not-utf8", {"reports.parquet": lambda tmp: parquet_bytes(pa.table({
        "report_id": ["R1"], "title": pa.array([b"\xff\xfe"], pa.binary()), "published": ["2024-05-01"], "text": ["x"]}), tmp)},
         {"reports.parquet": Failed("not valid UTF8")}),
    Case("broken-symlink-in-folder", {"enterprises_old.csv": Link("gone.csv")}, {"enterprises_old.csv": Failed("broken")}),
]


def _denying_open(real_open: Callable[..., object], name: str) -> Callable[..., object]:
    def deny(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)
    return deny


def _materialise(folder: Path, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir()
    (folder / "bureau.csv").write_text(BUREAU, encoding="utf-8")
    for name, content in case.files.items():
        path = folder / name
        if isinstance(content, Link):
            path.symlink_to(folder / content.target)
        elif content == FIFO:
            os.mkfifo(path)
        elif content == UNREADABLE_MARK:
            path.write_text(ENT + "\n", encoding="utf-8")
            path.chmod(0)
            if os.geteuid() == 0:  # root reads anything: make the open fail as it would for a user
                monkeypatch.setattr(Path, "open", _denying_open(Path.open, name))
        else:
            path.write_bytes(content(folder.parent / "tmp.parquet") if callable(content) else content)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    _materialise(folder, case, monkeypatch)
    paths = [folder / a for a in case.args] if case.args else [folder]
    report = ingest.run(ws, Config(), paths)
    monkeypatch.undo()
    by_name = {Path(r.file).name: r for r in report.files}
    expect = {"bureau.csv": Loaded(2, 0), **case.expect}
    assert set(by_name) == set(expect), by_name
    for name, outcome in expect.items():
        result = by_name[name]
        if isinstance(outcome, Failed):
            assert result.error, (name, result)
            assert name in result.error and outcome.fragment.lower() in result.error.lower(), result.error
            assert "\n" not in result.error
        else:
            assert result.error is None, result.error
            assert (result.rows_loaded, result.rows_quarantined) == (outcome.loaded, outcome.quarantined), result
            assert result.rows_in == result.rows_loaded + result.rows_quarantined
            if outcome.reason:
                reasons = ws.engine.query("SELECT reason FROM quarantine WHERE file = $f",
                                          {"f": str((folder / name).resolve())}).column(0).to_pylist()
                assert any(outcome.reason in r for r in reasons), reasons
    assert ws.engine.query("SELECT uscc FROM bureau WHERE uscc IN ($a, $b) ORDER BY 1", {"a": A, "b": B}).to_pylist() \
        == [{"uscc": A}, {"uscc": B}]
    run = ws.engine.query("SELECT status FROM runs WHERE run_id = $r", {"r": report.run_id}).to_pylist()
    assert run == [{"status": "partial" if report.errors else "ok"}]
    if case.sql:
        assert [tuple(r.values()) for r in ws.engine.query(case.sql).to_pylist()] == case.rows


# -- 4. re-ingesting a shrunk file hands its keys back to the file that held them as duplicates ----------
HEADER = "uscc,max_overdue_days,open_litigations,tax_arrears,blacklisted\n"


def test_shrunk_file_releases_cross_file_duplicates(ws: Workspace, tmp_path: Path) -> None:
    first = tmp_path / "bureau.csv"
    second = tmp_path / "bureau_2.csv"
    third = tmp_path / "bureau_3.csv"
    first.write_text(HEADER + f"{A},0,0,false,false\n{B},0,0,false,false\n", encoding="utf-8")
    second.write_text(HEADER + f"{A},7,0,false,false\n{A},8,0,false,false\n{C},1,0,false,false\n", encoding="utf-8")
    third.write_text(HEADER + f"{A},9,0,false,false\n", encoding="utf-8")
    ingest.run(ws, Config(), [first, second, third])
    assert ws.engine.scalar("SELECT max_overdue_days FROM bureau WHERE uscc = $u", {"u": A}) == 0
    first.write_text(HEADER + f"{B},0,0,false,false\n", encoding="utf-8")  # A is gone from the first file
    report = ingest.run(ws, Config(), [first])
    assert report.files[0].rows_loaded == 1
    # A now belongs to the earliest file that holds it, its first row; every other A is a named duplicate
    loaded = ws.engine.query("SELECT uscc, max_overdue_days, _row FROM bureau").to_pylist()
    assert sorted(loaded, key=lambda r: r["uscc"]) == sorted([
        {"uscc": A, "max_overdue_days": 7, "_row": 1}, {"uscc": B, "max_overdue_days": 0, "_row": 1},
        {"uscc": C, "max_overdue_days": 1, "_row": 3}], key=lambda r: r["uscc"])
    reasons = ws.engine.query("SELECT file, row, reason FROM quarantine ORDER BY file, row").to_pylist()
    assert reasons == [
        {"file": str(second.resolve()), "row": 2, "reason": "duplicate uscc: first seen at row 1"},
        {"file": str(third.resolve()), "row": 1, "reason": f"duplicate uscc: already loaded from {second.resolve()}"}]
    counts = ws.engine.query("SELECT file, rows_in, rows_loaded, rows_quarantined FROM ingest_files ORDER BY file").to_pylist()
    assert [(c["rows_in"], c["rows_loaded"], c["rows_quarantined"]) for c in counts] == [(1, 1, 0), (3, 2, 1), (1, 0, 1)]
    # and putting A back in the first file makes it a duplicate there: the key stays where it is loaded
    first.write_text(HEADER + f"{A},0,0,false,false\n{B},0,0,false,false\n", encoding="utf-8")
    ingest.run(ws, Config(), [first])
    assert ws.engine.scalar("SELECT max_overdue_days FROM bureau WHERE uscc = $u", {"u": A}) == 7


def test_file_error_logs_one_warning_line(ws: Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "enterprises.csv"
    bad.write_bytes(b"PK\x03\x04 x \x00\xff")
    with caplog.at_level("WARNING"):
        report = ingest.run(ws, Config(), [bad])
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage() and str(bad) in warnings[0].getMessage()
    assert report.errors and str(bad) in (report.errors[0].error or "")
