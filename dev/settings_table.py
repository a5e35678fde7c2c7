"""Rewrite README.md's settings table from the config models (datasette's one-registry pattern).

    python dev/settings_table.py          # rewrite the table in place
    python dev/settings_table.py --check  # exit 1 if README's table is stale (tests call this logic)
"""

from __future__ import annotations

import sys
from pathlib import Path

from chainlight.config import iter_settings

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def table() -> str:
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for name, default, help_text in iter_settings():
        shown = "unset" if default is None else f"`{default}`"
        rows.append(f"| `{name}` | {shown} | {help_text} |")
    return "\n".join(rows)


def rewritten(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = rewritten(text)
    if "--check" in sys.argv:
        return 0 if new == text else 1
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
