"""Shared by the real-name benches: the fixed development/test split of the listed companies and the
distractor registry built by ``bench/build_registry.py``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "chain_kg"
REGISTRY = Path.home() / ".cache" / "chainlight" / "registry" / "registry.parquet"


def half(code: str) -> str:
    """``dev`` or ``test``, fixed by the company code alone (first byte of its SHA-256 even → dev)."""
    return "dev" if hashlib.sha256(code.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def companies(data: Path = DATA) -> list[dict]:
    """Listed companies with a short name and a full name."""
    rows = [json.loads(line) for line in (data / "company.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("name") and r.get("fullname") and r.get("code")]


def listed_registry(rows: list[dict]) -> list[tuple[str, str, str]]:
    """Every listed firm's full name (both halves: the registry does not know which half a firm is in)."""
    return [(r["code"], r["fullname"], "registered") for r in rows]


def distractors(path: Path = REGISTRY) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(uscc, name, 'registered') rows and uscc → city of the real registered names."""
    if not path.exists():
        raise SystemExit(f"error: no distractor registry at {path}; run python bench/build_registry.py first")
    table = pq.read_table(path, columns=["uscc", "name", "city"]).to_pydict()
    names = [(u, n, "registered") for u, n in zip(table["uscc"], table["name"], strict=True)]
    return names, {u: c for u, c in zip(table["uscc"], table["city"], strict=True) if c}
