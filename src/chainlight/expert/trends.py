"""Segment trends: the reports' trend statements, weighed, with their citations; and report figures.

The offline reader is extract's verified ``trend`` facts (no second extractor here). With an LLM
configured (``llm.base_url`` or ``llm.local_model``), the reports the offline reader is unsure of — no
trend statement found, statements that contradict each other, or a segment whose reports disagree —
are also read by the model, one report at a time under a versioned prompt. A model judgment counts
only if the sentence it cites is really in the report and is not an instruction; it then enters the
vote at a lower confidence than an offline statement. Every judgment in ``trends`` lists its citations
(report id, offsets and the exact span), so each can be checked against the report text.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from typing import Literal

import ahocorasick
import pyarrow as pa
from pydantic import BaseModel, Field

from chainlight.config import Config
from chainlight.engine.base import load_sql, render
from chainlight.extract.offline import DOWN, FLAT, INSTRUCTION, PERCENT, SENTENCE, UP
from chainlight.ontology.model import Ontology
from chainlight.workspace import Workspace

log = logging.getLogger(__name__)

PROMPT_VERSION = "trend_v1"
LLM_CONFIDENCE = 0.5
CONTEXT_CONFIDENCE = 0.6
MAX_REPORT_CHARS = 1500
STATEMENT_SCHEMA = pa.schema([
    ("report_id", pa.string()), ("segment_id", pa.string()), ("direction", pa.string()), ("value", pa.float64()),
    ("start", pa.int64()), ("end", pa.int64()), ("span_text", pa.string()), ("confidence", pa.float64()),
    ("method", pa.string()), ("published", pa.date32())])
FIGURE_SCHEMA = pa.schema([
    ("report_id", pa.string()), ("segment_id", pa.string()), ("kind", pa.string()), ("value", pa.float64()),
    ("unit", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("span_text", pa.string()),
    ("published", pa.date32())])
# market size (市场规模约120亿元) and capacity (产能达到5万吨) figures; growth figures come from trend statements
MARKET_SIZE = re.compile(r"市场规模[^。！？!?\d]{0,8}?(\d+(?:\.\d+)?)\s*(万亿元|亿元|万元)")
CAPACITY = re.compile(r"产能[^。！？!?\d]{0,8}?(\d+(?:\.\d+)?)\s*(万吨|吨|GWh|MWh|GW|万台|万辆|万片|万件)")


class TrendReading(BaseModel):
    direction: Literal["up", "flat", "down", "none"]
    span_text: str = Field(default="", max_length=400)


def prompt() -> str:
    return (resources.files("chainlight.expert") / "prompts" / f"{PROMPT_VERSION}.md").read_text(encoding="utf-8")


def offline_statements(ws: Workspace) -> pa.Table:
    if not (ws.table_exists("facts") and ws.table_exists("reports")):
        return STATEMENT_SCHEMA.empty_table()
    return ws.engine.query(load_sql("chainlight.expert", "statements") + " ORDER BY report_id, start, segment_id"
                           ).cast(STATEMENT_SCHEMA)


def vocabulary_segments(reports: list[dict], terms: pa.Table) -> dict[str, str]:
    """Per report, the segment whose firms list the product terms the report uses (the workspace's own
    vocabulary: ``term_segments.sql``). Each term found (longest matches only) gives its segments the
    shares of the firms listing it; the heaviest segment wins outright, or the report stays unplaced."""
    votes: dict[str, dict[str, int]] = {}
    for row in terms.to_pylist():
        votes.setdefault(row["term"], {})[row["segment_id"]] = row["firms"]
    if not votes:
        return {}
    automaton = ahocorasick.Automaton()
    for term in votes:
        automaton.add_word(term, term)
    automaton.make_automaton()
    placed = {}
    for report in reports:
        found = {term for _, term in automaton.iter(report["text"] or "")}
        found = {t for t in found if not any(t != u and t in u for u in found)}
        weight: dict[str, float] = {}
        for term in sorted(found):
            total = sum(votes[term].values())
            for segment, firms in votes[term].items():
                weight[segment] = weight.get(segment, 0.0) + firms / total
        ranked = sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))
        if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1] + 1e-9):
            placed[report["report_id"]] = ranked[0][0]
    return placed


def report_segments(reports: list[dict], statements: pa.Table, ontology: Ontology,
                    *fallbacks: dict[str, str]) -> dict[str, str]:
    """The segment each report is about: the one its statements name most, else the longest segment
    name in its title, else in its text, else the first of ``fallbacks`` (report id → segment) that
    places it (the workspace's product vocabulary, then the firms the report names)."""
    counts: dict[str, dict[str, int]] = {}
    for row in statements.select(["report_id", "segment_id"]).to_pylist():
        per = counts.setdefault(row["report_id"], {})
        per[row["segment_id"]] = per.get(row["segment_id"], 0) + 1
    names = sorted(((s.name, s.id) for s in ontology.segments().values()), key=lambda p: (-len(p[0]), p[1]))
    found = {}
    for report in reports:
        if report["report_id"] in counts:
            per = counts[report["report_id"]]
            found[report["report_id"]] = max(sorted(per), key=lambda s: per[s])
            continue
        for field in ("title", "text"):
            hit = next((sid for name, sid in names if name in (report[field] or "")), None)
            if hit:
                found[report["report_id"]] = hit
                break
        else:
            hit = next((f[report["report_id"]] for f in fallbacks if report["report_id"] in f), None)
            if hit:
                found[report["report_id"]] = hit
    return found


def context_statements(reports: list[dict], statements: pa.Table, segment_of: dict[str, str]) -> pa.Table:
    """For a report with no trend statement (it names its segment in words the ontology lacks), its first
    sentence with a direction and a stated figure, read with extract's own direction and figure patterns,
    is a statement about the segment the report is about — at a lower confidence than a statement that
    names its segment. Instruction-like sentences are skipped."""
    read = set(statements.column("report_id").to_pylist())
    rows = []
    for report in reports:
        rid = report["report_id"]
        if rid in read or rid not in segment_of:
            continue
        for match in SENTENCE.finditer(report["text"] or ""):
            sentence = match.group(0)
            direction = "down" if DOWN.search(sentence) else "up" if UP.search(sentence) else \
                "flat" if FLAT.search(sentence) else None
            figure = PERCENT.search(sentence)
            if direction and figure and not INSTRUCTION.search(sentence):
                rows.append({"report_id": rid, "segment_id": segment_of[rid], "direction": direction,
                             "value": float(figure.group(1)), "start": match.start(), "end": match.end(),
                             "span_text": sentence, "confidence": CONTEXT_CONFIDENCE, "method": "offline_context",
                             "published": report["published"]})
                break
    return pa.Table.from_pylist(rows, schema=STATEMENT_SCHEMA)


def unsure_reports(reports: list[dict], statements: pa.Table, segment_of: dict[str, str]) -> list[str]:
    """Reports worth a model's reading: no statement, self-contradicting statements, or a segment whose
    reports disagree."""
    directions: dict[str, set[str]] = {}
    by_segment: dict[str, set[str]] = {}
    for row in statements.select(["report_id", "segment_id", "direction"]).to_pylist():
        directions.setdefault(row["report_id"], set()).add(row["direction"])
        by_segment.setdefault(row["segment_id"], set()).add(row["direction"])
    chosen = []
    for report in reports:
        rid = report["report_id"]
        if rid not in segment_of:
            continue
        if rid not in directions or len(directions[rid]) > 1 or len(by_segment.get(segment_of[rid], set())) > 1:
            chosen.append(rid)
    return chosen


def llm_statements(ws: Workspace, cfg: Config, reports: list[dict], statements: pa.Table,
                   segment_of: dict[str, str], ontology: Ontology) -> tuple[pa.Table, dict[str, int]]:
    """Statements from the LLM for the reports the offline reader is unsure of; ({} stats when no LLM)."""
    from chainlight.extract import _llm as llm_session  # the one place an LLM endpoint is opened

    asked = unsure_reports(reports, statements, segment_of)[: cfg.expert.llm_max_reports]
    stats = {"asked": len(asked), "kept": 0, "rejected_span": 0, "rejected_instruction": 0, "no_answer": 0}
    rows: list[dict] = []
    if not asked:
        return STATEMENT_SCHEMA.empty_table(), stats
    by_id = {r["report_id"]: r for r in reports}
    segments = ontology.segments()
    with llm_session(ws, cfg) as client:
        if client is None:
            return STATEMENT_SCHEMA.empty_table(), {}
        texts = [f"{segments[segment_of[rid]].name}\n{by_id[rid]['text'][:MAX_REPORT_CHARS]}" for rid in asked]
        answers = client.map(PROMPT_VERSION, prompt(), texts, TrendReading)
        stats["llm"] = client.stats.as_dict()  # type: ignore[assignment]
    for rid, answer in zip(asked, answers, strict=True):
        text = by_id[rid]["text"] or ""
        span = (answer.span_text.strip() if answer else "")
        if answer is None or answer.direction == "none" or not span:
            stats["no_answer"] += 1
            continue
        start = text.find(span)
        if start < 0 or len(span) < 4:
            stats["rejected_span"] += 1
            continue
        if INSTRUCTION.search(span):
            stats["rejected_instruction"] += 1
            continue
        figure = PERCENT.search(span)
        rows.append({"report_id": rid, "segment_id": segment_of[rid], "direction": answer.direction,
                     "value": float(figure.group(1)) if figure else None, "start": start, "end": start + len(span),
                     "span_text": span, "confidence": LLM_CONFIDENCE, "method": "llm",
                     "published": by_id[rid]["published"]})
        stats["kept"] += 1
    return pa.Table.from_pylist(rows, schema=STATEMENT_SCHEMA), stats


def figures(reports: list[dict], statements: pa.Table, segment_of: dict[str, str]) -> pa.Table:
    """Report-level figures as structured facts: growth rates (from the trend statements), market sizes
    and capacities (from the report's sentences), each with its exact span."""
    rows = [{"report_id": s["report_id"], "segment_id": s["segment_id"], "kind": "growth_rate",
             "value": -abs(s["value"]) if s["direction"] == "down" else s["value"], "unit": "%",
             "start": s["start"], "end": s["end"], "span_text": s["span_text"], "published": s["published"]}
            for s in statements.to_pylist() if s["value"] is not None]
    for report in reports:
        text = report["text"] or ""
        for sentence in SENTENCE.finditer(text):
            if INSTRUCTION.search(sentence.group(0)):
                continue
            for kind, pattern in (("market_size", MARKET_SIZE), ("capacity", CAPACITY)):
                for match in pattern.finditer(sentence.group(0)):
                    start = sentence.start() + match.start()
                    rows.append({"report_id": report["report_id"], "segment_id": segment_of.get(report["report_id"]),
                                 "kind": kind, "value": float(match.group(1)), "unit": match.group(2),
                                 "start": start, "end": start + len(match.group(0)), "span_text": match.group(0),
                                 "published": report["published"]})
    rows.sort(key=lambda r: (r["report_id"], r["start"], r["kind"]))
    return pa.Table.from_pylist(rows, schema=FIGURE_SCHEMA)


def judgments(ws: Workspace, cfg: Config, statements: pa.Table) -> str:
    """The SQL of the trend judgments over the given statements (registered as a view)."""
    ws.engine.register_arrow("_expert_statements", statements)
    return render(load_sql("chainlight.expert", "trends"), {"statements": "_expert_statements"})
