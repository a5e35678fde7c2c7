"""How much of the line-item reading rests on the tax code: items and product listings of a demo workspace
read by ``ontology.items.ItemReader`` with and without the ontology's tax-code → segment map.

    python bench/item_reader_ablation.py WORKSPACE     # after `chainlight demo --profile blind`

The synthetic economy gives each segment tax codes of its own, so a line item's code names its segment;
real codes are coarser (one code for all 汽车零部件). Without the map the reader has only the names: the
lexicon, names learned from the items it is sure of, and the sellers' other goods. Prints one JSON
object: per source and setting, the share of truth rows read to the right segment, and how they were read.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from chainlight.ontology.items import ItemReader
from chainlight.ontology.model import load_file
from chainlight.ontology.signals import SegmentLexicon, SegmentTextModel
from chainlight.workspace import Workspace


def _top(distribution: dict[str, float]) -> str | None:
    return max(distribution.items(), key=lambda kv: (kv[1], kv[0]))[0] if distribution else None


def ablation(workspace: Path) -> dict[str, object]:
    truth = (workspace / "inputs" / "truth").as_posix()
    ontology = load_file(workspace / "inputs" / "ontology.yaml")
    out: dict[str, object] = {}
    with Workspace(workspace) as ws:
        q = ws.engine.query
        items = [(r["item_name"], r["tax_code"]) for r in q(
            "SELECT DISTINCT item_name, coalesce(tax_code, '') AS tax_code FROM invoices WHERE status = 'normal' "
            "ORDER BY 1, 2").to_pylist()]
        index = {item: i for i, item in enumerate(items)}
        sales = [(r["seller_uscc"], index[(r["item_name"], r["tax_code"])], r["amount"]) for r in q(
            "SELECT seller_uscc, item_name, coalesce(tax_code, '') AS tax_code, sum(amount) AS amount FROM invoices "
            "WHERE status IN ('normal', 'red') GROUP BY 1, 2, 3 HAVING sum(amount) > 0 ORDER BY 1, 2, 3").to_pylist()
            if (r["item_name"], r["tax_code"]) in index]
        item_truth = {(r["item_name"], r["tax_code"]): r["segment_id"] for r in q(
            f"SELECT item_name, tax_code, segment_id FROM read_parquet('{truth}/item_segments.parquet')").to_pylist()}
        products = q(f"SELECT uscc, product_name, segment_id FROM read_parquet('{truth}/product_segments.parquet') "
                     "ORDER BY 1, 2").to_pylist()
    for setting in ("with_tax_codes", "without_tax_codes"):
        lexicon = SegmentLexicon(ontology)
        if setting == "without_tax_codes":
            lexicon.tax.clear()
        reader = ItemReader(lexicon, SegmentTextModel(ontology, 42))
        readings = reader.read_items(items, sales)
        scored = [(reading, item_truth[item]) for item, reading in zip(items, readings, strict=True) if item in item_truth]
        firms = reader.firm_profiles(sales, readings)
        listed = reader.read_products([p["product_name"] for p in products], [firms.get(p["uscc"]) for p in products])
        for source, pairs in (("item", scored),
                              ("product", [(r, p["segment_id"]) for r, p in zip(listed, products, strict=True)])):
            out[f"{source}:{setting}"] = {
                "rows": len(pairs), "accuracy": round(sum(_top(r.distribution) == t for r, t in pairs) / len(pairs), 4),
                "read_by": dict(sorted(Counter(r.how for r, _ in pairs).items()))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", type=Path)
    print(json.dumps(ablation(parser.parse_args().workspace), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
