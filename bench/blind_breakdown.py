"""Where a stage loses on a blind economy: resolve recall by name variant, extract by seen vs held-out term.

    python bench/blind_breakdown.py WORKSPACE [--seed 42]     # after `chainlight demo --profile blind`

Reads the workspace's entity_links and facts and the demo's truth (WORKSPACE/inputs/truth); the held-out
terms are rebuilt from the seed with ``chainlight.synth.vocab``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chainlight.ontology.model import load_default
from chainlight.synth import vocab
from chainlight.workspace import Workspace


def core_term(item: str) -> str:
    """The product term of a line item as written (``*税收分类简称*商品名称 规格 单位`` → 商品名称)."""
    return (item.rsplit("*", 1)[-1] if item.startswith("*") else item).split(" ")[0]


def breakdown(workspace: Path, seed: int) -> dict[str, object]:
    truth = (workspace / "inputs" / "truth").as_posix()
    held = vocab.build(load_default(), seed).held_out_terms()
    with Workspace(workspace) as ws:
        variants = ws.engine.query(f"""
            WITH t AS (SELECT mention_id, variant, true_uscc FROM read_parquet('{truth}/mentions.parquet')
                       WHERE true_uscc IS NOT NULL)
            SELECT variant, count(*) AS mentions, count(l.uscc) AS linked,
                   count(*) FILTER (WHERE l.uscc = t.true_uscc) AS correct
            FROM t LEFT JOIN entity_links l USING (mention_id) GROUP BY 1 ORDER BY 2 DESC""").to_pylist()
        facts = ws.engine.query(f"""
            WITH best AS (SELECT source, source_id, arg_max(segment_id, confidence) AS segment_id FROM facts
                          WHERE kind = 'product_segment' GROUP BY 1, 2),
                 t AS (SELECT 'item' AS source, item_name || '|' || tax_code AS source_id, item_name AS text, segment_id
                       FROM read_parquet('{truth}/item_segments.parquet')
                       UNION ALL SELECT 'product', uscc || ':' || product_name, product_name, segment_id
                       FROM read_parquet('{truth}/product_segments.parquet'))
            SELECT t.source, t.text, b.segment_id AS predicted, t.segment_id AS true_segment
            FROM t LEFT JOIN best b USING (source, source_id)""").to_pylist()
    resolve = {r["variant"]: {"mentions": r["mentions"], "recall": round(r["correct"] / r["mentions"], 4),
                              "precision": round(r["correct"] / r["linked"], 4) if r["linked"] else None}
               for r in variants}
    groups: dict[str, list[int]] = {}
    for row in facts:
        key = f"{row['source']}:{'held_out' if core_term(row['text']) in held else 'seen'}"
        counts = groups.setdefault(key, [0, 0, 0])
        counts[0] += 1
        counts[1] += row["predicted"] is not None
        counts[2] += row["predicted"] == row["true_segment"]
    extract = {k: {"facts": n, "precision": round(c / p, 4) if p else None, "recall": round(c / n, 4)}
               for k, (n, p, c) in sorted(groups.items())}
    return {"resolve_by_variant": resolve, "extract_by_term": extract}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(json.dumps(breakdown(args.workspace, args.seed), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
