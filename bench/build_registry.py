"""Build the development distractor registry: real registered Chinese enterprise names, kept outside the repo.

    python bench/build_registry.py [--source GIT_DIR_OR_CSV_FOLDER] [--out ~/.cache/chainlight/registry]

Source: "Enterprise-Registration-Data-of-Chinese-Mainland" by Wen Liu (刘文, github.com/imhuster/
Enterprise-Registration-Data-of-Chinese-Mainland), as mirrored in the public GitHub repository
``catseyess/elevencats`` (branch ``csv``: one CSV per registration year and province, columns 企业名称,
统一社会信用代码, 注册日期, 企业类型, 法人代表, 注册资金, 经营范围, 所在省份, 地区, 注册地址; about 1.1M
rows, 1978–2019, 31 provinces). Licence: CC BY-NC-SA 4.0 (stated in the dataset's README) — for
non-commercial research use with attribution; the data is never committed to this repository.

``--source`` is either a git directory of that repository (bare or not; its ``csv`` branch is read
with ``git cat-file``, e.g. the mirror the ``fetch`` tool leaves under /work/.mirror) or a folder of
the CSV files. Filters, in order:

- the name is 4–40 characters after width/script cleaning and holds at least 4 CJK characters;
- the USCC is 18 characters and passes its check character (``chainlight.uscc.is_valid``);
- one row per cleaned name (first by USCC order) and one name per USCC;
- names equal (after cleaning) to a listed company's full name in ``chain_kg/company.jsonl`` are
  dropped: those are the listed firms themselves, not distractors.

Output: ``registry.parquet`` (uscc, name, province, city) and ``SOURCE.txt`` in ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from chainlight import uscc as uscc_mod
from chainlight.resolve.normalise import clean

DEFAULT_SOURCE = Path("/work/.mirror/catseyess+elevencats/repo")
DEFAULT_OUT = Path.home() / ".cache" / "chainlight" / "registry"
DEFAULT_LISTED = Path(__file__).resolve().parents[2] / "shared" / "data" / "chain_kg" / "company.jsonl"
SOURCE_NOTE = ("Enterprise-Registration-Data-of-Chinese-Mainland (Wen Liu, github.com/imhuster/"
               "Enterprise-Registration-Data-of-Chinese-Mainland), mirror github.com/catseyess/elevencats branch csv; "
               "licence CC BY-NC-SA 4.0; built by bench/build_registry.py")


def _git_csvs(git_dir: Path) -> Iterator[str]:
    listing = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "csv"], check=True,
                             capture_output=True, text=True).stdout
    blobs = [line.split()[2] for line in listing.splitlines() if line.endswith(".csv") or ".csv\"" in line]
    batch = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "--batch"], input=("\n".join(blobs) + "\n").encode(),
                           check=True, capture_output=True).stdout
    pos = 0
    while pos < len(batch):
        header_end = batch.index(b"\n", pos)
        header = batch[pos:header_end].split()
        if header[-1] == b"missing":  # a blob the mirror did not keep
            pos = header_end + 1
            continue
        size = int(header[2])
        yield batch[header_end + 1:header_end + 1 + size].decode("utf-8", errors="replace")
        pos = header_end + 1 + size + 1


def _folder_csvs(folder: Path) -> Iterator[str]:
    for path in sorted(folder.rglob("*.csv")):
        yield path.read_text(encoding="utf-8", errors="replace")


def rows(source: Path) -> Iterator[tuple[str, str, str, str]]:
    """(uscc, name, province, city) of every CSV row."""
    texts = _git_csvs(source) if (source / "HEAD").exists() or (source / ".git").exists() else _folder_csvs(source)
    for text in texts:
        reader = csv.reader(io.StringIO(text))
        next(reader, None)
        for row in reader:
            if len(row) >= 9:
                yield row[1].strip().upper(), row[0].strip(), row[7].strip(), row[8].strip()


def _cjk(text: str) -> int:
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text)


def build(source: Path, listed: Path) -> pa.Table:
    listed_names = {clean(json.loads(line)["fullname"]) for line in listed.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line).get("fullname")}
    kept: dict[str, tuple[str, str, str, str]] = {}
    seen_codes: set[str] = set()
    for code, name, province, city in sorted(rows(source)):
        key = clean(name)
        if not 4 <= len(key) <= 40 or _cjk(key) < 4 or key in listed_names or key in kept:
            continue
        if code in seen_codes or not uscc_mod.is_valid(code):
            continue
        seen_codes.add(code)
        kept[key] = (code, name, province, city)
    values = sorted(kept.values())
    return pa.table({col: pa.array([v[i] for v in values], pa.string())
                     for i, col in enumerate(("uscc", "name", "province", "city"))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--listed", type=Path, default=DEFAULT_LISTED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    table = build(args.source, args.listed)
    args.out.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.out / "registry.parquet")
    (args.out / "SOURCE.txt").write_text(f"{SOURCE_NOTE}\nrows {table.num_rows}\n", encoding="utf-8")
    print(f"{table.num_rows:,} registered names -> {args.out / 'registry.parquet'}")


if __name__ == "__main__":
    main()
