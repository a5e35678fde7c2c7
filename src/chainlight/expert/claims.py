"""Claims reports make about specific firms, kept as claims for the risk engine to cross-check.

Nothing here is believed: a claim is the report's word, linked to the firm it names, with the exact
span, so the risk engine can set it against invoices, patents and the registry. Supply claims are
extract's verified ``supply_claim`` facts (not extracted twice); other sentences naming a resolved firm
(``entity_links`` report mentions) are kept when they claim capacity, high-tech status or
certification, praise the firm, or try to instruct the reader — the last kind only so the risk
engine can count and ignore them.
"""

from __future__ import annotations

import hashlib
import re

import pyarrow as pa

from chainlight.extract.offline import INSTRUCTION, SENTENCE
from chainlight.workspace import Workspace

CLAIM_SCHEMA = pa.schema([
    ("claim_id", pa.string()), ("report_id", pa.string()), ("kind", pa.string()), ("uscc", pa.string()),
    ("counterpart_uscc", pa.string()), ("name_as_written", pa.string()), ("start", pa.int64()), ("end", pa.int64()),
    ("span_text", pa.string()), ("link", pa.string()), ("published", pa.date32())])
# kinds tried in this order on a sentence naming a firm; the first that matches is the claim's kind
KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("instruction", INSTRUCTION),
    ("capacity", re.compile(r"产能|扩产|投产|新建产线|翻番|翻倍|capacity", re.IGNORECASE)),
    ("high_tech", re.compile(r"高新技术企业|专精特新|小巨人|专利|high-tech|patent", re.IGNORECASE)),
    ("certification", re.compile(r"认证|资质|IATF|ISO\s?\d+|GMP", re.IGNORECASE)),
    ("praise", re.compile(r"龙头|领先|优质|实力雄厚|信誉良好|值得信赖|推荐|首选|leading|trusted", re.IGNORECASE)),
)


def _claim_id(report_id: str, start: int, kind: str, uscc: str | None) -> str:
    return hashlib.sha1(f"{report_id}|{start}|{kind}|{uscc}".encode()).hexdigest()[:20]


def firm_claims(ws: Workspace) -> pa.Table:
    if not ws.table_exists("reports"):
        return CLAIM_SCHEMA.empty_table()
    q = ws.engine.query
    reports = {r["report_id"]: r for r in q("SELECT report_id, published, text FROM reports ORDER BY report_id").to_pylist()}
    mentions: dict[str, list[dict]] = {}
    if ws.table_exists("entity_links"):
        for m in q("SELECT source_id, mention_id, name_as_written, uscc FROM entity_links "
                   "WHERE source = 'report' AND uscc IS NOT NULL ORDER BY source_id, mention_id").to_pylist():
            m["offset"] = int(m["mention_id"].rsplit(":", 1)[1])
            mentions.setdefault(m["source_id"], []).append(m)
    rows: list[dict] = []
    covered: set[tuple[str, int]] = set()
    supply = q("SELECT source_id, start, \"end\", span_text, subject, object, subject_uscc, object_uscc FROM facts "
               "WHERE kind = 'supply_claim' AND source = 'report' ORDER BY source_id, start").to_pylist() \
        if ws.table_exists("facts") else []
    for fact in supply:
        rid = fact["source_id"]
        inside = [m for m in mentions.get(rid, []) if fact["start"] <= m["offset"] < fact["end"]]

        def linked(name: str | None, fallback: str | None, inside: list[dict] = inside) -> tuple[str | None, str]:
            hit = next((m for m in inside if m["name_as_written"] == name), None)
            return (hit["uscc"], "entity_links") if hit else (fallback, "extract")
        seller, how = linked(fact["subject"], fact["subject_uscc"])
        buyer, _ = linked(fact["object"], fact["object_uscc"])
        rows.append({"claim_id": _claim_id(rid, fact["start"], "supply", seller), "report_id": rid, "kind": "supply",
                     "uscc": seller, "counterpart_uscc": buyer, "name_as_written": fact["subject"],
                     "start": fact["start"], "end": fact["end"], "span_text": fact["span_text"], "link": how,
                     "published": reports[rid]["published"] if rid in reports else None})
        covered.add((rid, fact["start"]))
    for rid, found in sorted(mentions.items()):
        if rid not in reports:
            continue
        text = reports[rid]["text"] or ""
        for sentence in SENTENCE.finditer(text):
            if (rid, sentence.start()) in covered:
                continue
            named = [m for m in found if sentence.start() <= m["offset"] < sentence.end()]
            kind = next((k for k, pattern in KINDS if pattern.search(sentence.group(0))), None)
            if not named or kind is None:
                continue
            for m in named:
                rows.append({"claim_id": _claim_id(rid, m["offset"], kind, m["uscc"]), "report_id": rid, "kind": kind,
                             "uscc": m["uscc"], "counterpart_uscc": None, "name_as_written": m["name_as_written"],
                             "start": sentence.start(), "end": sentence.end(), "span_text": sentence.group(0),
                             "link": "entity_links", "published": reports[rid]["published"]})
    rows.sort(key=lambda r: (r["report_id"], r["start"], r["kind"], r["uscc"] or ""))
    return pa.Table.from_pylist(rows, schema=CLAIM_SCHEMA)
