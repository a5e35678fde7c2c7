"""The synthetic chain economy: realistic input files with ground truth, from one seed, at any scale.

``generate(out, firms, seed)`` writes every input table of the data contract (Parquet, or CSV in
UTF-8/GBK; ``partitioned=True``: a folder of Parquet parts per table, for Spark) plus ``truth/`` (Parquet)
for scoring every later stage. The same seed and size give byte-identical files.

Memory (issue 18): flat in the number of firms. The firms, their trade edges, their health paths and their
credit draws are made a block of ``spill.FIRM_BLOCK`` firms at a time, each block from its own random stream
(a ``SeedSequence`` child addressed by stream and block, ``spill.block_rng``), and written straight to a
spill folder read back memory-mapped: firm text columns, edges, per-edge invoice counts and sums, the
health path (firms × months) and the per-date credit arrays (firms × dates). Names and codes stay unique
across blocks through a sorted array of 64-bit digests (``firms._Taken``); a seller's edges come from its
own block, its buyers from per-segment pools by cumulative attraction (``trade._BuyerPools``). Invoices are
generated and written in batches of edges, and every per-firm table a chunk of ``FIRM_CHUNK`` firms at a
time, row groups regrouped to those of one whole write. Every pass over a spilled array re-maps it, so the
pages read leave the process. The bytes depend on the seed and ``FIRM_BLOCK`` only, not on ``FIRM_CHUNK``,
``EDGE_SLICE`` or any other chunk size (tested). What stays in memory per firm: the numeric columns the
trade model draws buyers from (segments, anchor flag, turnover, health: ~21 bytes), and after the
invoices a few per-firm figures (stable ties, mean PD, health now: ~20 bytes) and a byte an edge.

How the world works (and why it is hard):
- 9 chains, 60 segments (the default ontology); firms per segment by tier; 3 anchors per chain on
  its assembly tier (¥20bn turnover); a heavy-tailed long tail of SMEs (lognormal, σ = 1.15 around a
  tier median of ¥3–30M); 7% of material/component firms have a second, cross-chain business; a
  quarter of each segment's firms sit in its cluster city (嘉兴 for engineering plastics).
- 37% of firms are misregistered: 70% of them with a vague scope and code (general machinery,
  tech services, trading), the rest with a plausible but wrong segment of the same tier — the registry
  alone mounts badly. Industry codes are shared between segments, as in GB/T 4754.
- Invoices follow the ontology's upstream edges; buyers are chosen ∝ turnover^0.75·e^(0.3·health),
  so suppliers concentrate on anchors and healthier firms win more large customers. About 40
  invoices per firm over 36 months (≈ 13 a year; real firms under VAT per-invoice caps issue more, see
  ``trade``); 15% extra noise edges (services, one-off buys); 10% of firms
  also sell to buyers outside the registry; 2% voided (more for weak firms), 1% red-letter
  reversals; buyer names as written (exact 55%, legal-form swaps, short and former names, typos,
  homophones, brackets, branch suffixes) and a buyer USCC on 60% of invoices.
- Latent health h ~ N(0, 1) drives sales growth (+6%/yr per σ), churn (weak firms lose customers
  twice as often), voids, patents, bureau records and default; on top of it each firm's health moves
  month by month (``credit.health_path``: AR(1), ρ 0.9, σ 0.35; blind 0.4), and that path shows in
  the month's invoices (fewer and smaller orders, lost customers, more voids and reversals: effect
  sizes in ``trade``). Default within 12 months of each quarterly observation date (2024-03-31 …
  2025-12-31): logit PD = α − 0.9·h_t − 0.7·[≥ 2 stable ties to large firms], h_t = the health path
  at that date's month, α set so the mean SME rate is 4% (a few percent, as for
  SME loan books). Firms with ≥ 2 stable large-firm ties default at about half the base rate
  (measured by the tests), partly through their better health and partly directly — so the chain
  view helps about as much as reported for trade-tie information, not more.
- Reports (3 per segment) state trends with figures, sometimes disagree, make true and false
  claims about firms, and 12% carry a prompt-injection sentence; all spans are in truth.
- The story firm 嘉兴丞达新材料科技有限公司 is planted in every economy: registered as general
  machinery (3499), really makes high-temperature nylon, sells to a component maker that sells
  to an automotive anchor, 12 patents, high-tech, in the Jiaxing new-materials cluster, ¥10M a year.

``profile="blind"`` builds the same kind of world so that no stage can have been tuned to it (issue 11):
- held-out vocabulary (``vocab``): each segment's product forms and scope terms split from the seed into
  a seen part, written to ``ontology.yaml`` for the stages to load, and a held-out part, plus curated
  terms the default ontology never had (``vocabulary.yaml``: trade names, grades such as PA66-GF30,
  English abbreviations); about half of item names, product texts, patent titles and report phrases use
  held-out terms;
- invoice lines as e-invoices print them, ``*税收分类简称*商品名称 规格 单位``, and 8% non-product lines
  (freight, fees, pallets, packaging, rebates) on goods edges, kept out of the item truth;
- buyer and patent-holder names from the noise model in ``noise`` (same-pinyin and shape-similar
  characters, dropped and swapped characters, traditional forms, Latin transliterations, truncation),
  more renames (15%) with a quarter of a renamed buyer's invoices under its old name;
- 1–6 anchors per chain (drawn), turnover lognormal around ¥1.5bn (σ 0.9), overlapping the largest SMEs';
  no name suffix, founding date or registry rule of their own (``firms``), but the trade behaviour of core
  firms: more suppliers than their size earns, suppliers that depend on them, long steady ties (``trade``);
- credit outcomes with calibrated effect sizes and a dimmer bureau (``credit.blind``).
The same tables and truth columns as standard, so ``chainlight eval`` works unchanged.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chainlight.errors import InputError
from chainlight.ontology.model import load_default
from chainlight.synth import credit, texts, trade, vocab
from chainlight.synth.firms import STORY_FIRM_NAME, Firms, make_firms, segment_table
from chainlight.synth.spill import remap, take, zeros

__all__ = ["PROFILES", "SEEN_ONTOLOGY", "STORY_FIRM_NAME", "SynthSummary", "generate"]

PROFILES = ("standard", "blind")
SEEN_ONTOLOGY = "ontology.yaml"  # blind: the seen part of the ontology, next to the inputs (ingest skips .yaml)

FIRM_CHUNK = 1 << 16  # firms per chunk of the per-firm tables (registry, products, patents, aliases, truth)
ROW_GROUP = 1 << 17  # rows per row group of a table written a chunk at a time (DuckDB writes 122,880): every
# regrouped writer holds up to this many rows, and seven are open at once in the texts phase (1 << 20 held ~1 GB)
PART_ROWS = 1 << 22  # partitioned output: a new part file once the current one holds this many rows
EDGE_BATCH = 20_000  # edges per invoice batch: bounds the generator's peak memory (1M blind: 2.96 GB at 20k, 3.2 GB at 50k)
Progress = Callable[[str, float], None]


@dataclass
class SynthSummary:
    out: Path
    firms: int
    seed: int
    story_uscc: str
    rows: dict[str, int] = field(default_factory=dict)
    profile: str = "standard"
    ontology: Path | None = None  # blind: the ontology file the stages must load


class _Writer:
    """One output table, written in batches: Parquet (deterministic settings) or CSV in UTF-8/GBK.

    ``regroup``: batches are gathered and written in row groups of exactly ``ROW_GROUP`` rows, so a table
    streamed a chunk of firms at a time has the same bytes whatever the chunk (``flush`` ends a run of
    regrouped rows). Without it each batch is its own row group (the invoices: a group per batch of edges)."""

    def __init__(self, path: Path, fmt: str, encoding: str, regroup: bool = False, parts: bool = False) -> None:
        self.path, self.fmt, self.encoding, self.regroup, self.parts = path, fmt, encoding, regroup, parts
        self.parquet: pq.ParquetWriter | None = None
        self.csv_started = False
        self.rows = 0
        self.part_rows = 0  # rows in the current part file (``parts``)
        self.held: list[pa.Table] = []
        self.held_rows = 0
        self.empty: pa.Table | None = None  # an empty batch, written at close if no row ever came

    def write(self, table: pa.Table) -> None:
        if self.regroup and self.fmt == "parquet":
            if not table.num_rows:
                self.empty = self.empty or table
                return
            self.held.append(table)
            self.held_rows += table.num_rows
            while self.held_rows >= ROW_GROUP:
                whole = pa.concat_tables(self.held).combine_chunks()
                self._write(whole.slice(0, ROW_GROUP))
                rest = whole.slice(ROW_GROUP)
                self.held, self.held_rows = ([rest] if rest.num_rows else []), rest.num_rows
            return
        self._write(table)

    def flush(self) -> None:
        """Write the rows gathered so far as the last (short) row group of their run."""
        if self.held:
            whole, self.held, self.held_rows = pa.concat_tables(self.held).combine_chunks(), [], 0
            self._write(whole)

    def _write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.fmt == "parquet":
            if self.parts and self.part_rows >= PART_ROWS and self.parquet is not None:
                self.parquet.close()  # the next part starts at a batch boundary
                self.parquet, self.part_rows = None, 0
            if self.parquet is None:
                target = self.path
                if self.parts:
                    self.path.mkdir(parents=True, exist_ok=True)
                    target = self.path / f"part-{len(list(self.path.glob('part-*.parquet'))):05d}.parquet"
                self.parquet = pq.ParquetWriter(target, table.schema, compression="zstd")
            self.parquet.write_table(table.cast(self.parquet.schema))
            self.part_rows += table.num_rows
            return
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=not self.csv_started))
        data = buffer.getvalue().decode("utf-8").encode(self.encoding)
        with self.path.open("ab" if self.csv_started else "wb") as handle:
            handle.write(data)
        self.csv_started = True

    def close(self) -> int:
        """Finish the file; a table that never had a row is still written, empty, as a whole write was."""
        self.flush()
        if not self.rows and self.empty is not None and self.parquet is None and not self.csv_started:
            self._write(self.empty)
        if self.parquet is not None:
            self.parquet.close()
        return self.rows


def writer(folder: Path, name: str, fmt: str = "parquet", encoding: str = "utf-8", regroup: bool = True,
           parts: bool = False) -> _Writer:
    """Table ``name``'s writer: ``name.parquet`` / ``name.csv``, or with ``parts`` the folder ``name/`` of
    ``part-NNNNN.parquet`` files; ``regroup`` (default) for a table written a chunk at a time (``_Writer``)."""
    path = folder / name if parts else folder / f"{name}.{'parquet' if fmt == 'parquet' else 'csv'}"
    return _Writer(path, fmt, encoding, regroup=regroup, parts=parts)


def _chunks(count: int) -> list[range]:
    return [range(begin, min(begin + FIRM_CHUNK, count)) for begin in range(0, count, FIRM_CHUNK)]


def generate(out: Path, firms: int = 20_000, seed: int = 42, fmt: str = "parquet", encoding: str = "utf-8",
             progress: Progress | None = None, profile: str = "standard", partitioned: bool = False) -> SynthSummary:
    """Write the economy's input files into ``out`` and its ground truth into ``out/truth``.

    ``partitioned``: each input table is a folder of Parquet parts (``invoices/part-00000.parquet``, …, a
    new part every ``PART_ROWS`` rows), as Spark and a cluster's file system want them; the rows and their
    order are those of the single files. Truth stays one file per table.

    ``profile="blind"`` also writes ``out/ontology.yaml``, the seen part of the ontology (see
    ``synth.vocab``), which the stages must load instead of the default one."""
    if profile not in PROFILES:
        raise InputError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}", field="--profile")
    if fmt not in ("parquet", "csv"):
        raise InputError(f"format must be parquet or csv, not {fmt!r}", field="--format")
    if partitioned and fmt != "parquet":
        raise InputError("partitioned output is Parquet only (a folder of part files per table)", field="--format")
    if encoding.lower() not in ("utf-8", "gbk"):
        raise InputError(f"encoding must be utf-8 or gbk, not {encoding!r}", field="--encoding")
    if firms < 100:
        raise InputError("an economy needs at least 100 firms (3 anchors per chain plus suppliers)", field="--firms")
    say = progress or (lambda text, fraction: None)
    out = Path(out)
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    streams = np.random.SeedSequence(seed).spawn(7)
    seeds_firms, seeds_edges, seeds_credit, seeds_path = streams[0], streams[2], streams[4], streams[6]
    rng_trend, rng_texts, rng_counts = (np.random.default_rng(streams[k]) for k in (1, 3, 5))

    ontology = load_default()
    segments = segment_table(ontology)
    words = vocab.build(ontology, seed) if profile == "blind" else None
    say("firms", 0.02)
    with tempfile.TemporaryDirectory(prefix=".synth-spill-", dir=out) as spill_dir:  # firm state, on disk
        spill = Path(spill_dir)
        world = make_firms(ontology, firms, seeds_firms, spill, words)
        directions, growth = texts.segment_trends(segments, rng_trend)
        say("trade relations", 0.15)
        edges = trade.make_edges(ontology, segments, world, growth, seeds_edges, spill, blind=words is not None)
        counts = trade.invoice_counts(edges, firms, rng_counts, spill)
        path = credit.health_path(firms, credit.STANDARD_HEALTH_DRIFT if words is None else credit.BLIND_HEALTH_DRIFT,
                                  seeds_path, spill)

        summary = SynthSummary(out, firms, seed, str(world.uscc[0]), profile=profile)
        if words is not None:
            summary.ontology = out / SEEN_ONTOLOGY
            vocab.write_seen(words, summary.ontology)
        def table_out(name: str, regroup: bool = True) -> _Writer:
            return writer(out, name, fmt, encoding, regroup, parts=partitioned)

        def write(name: str, table: pa.Table) -> None:
            whole = table_out(name, regroup=False)
            whole.write(table)
            summary.rows[name] = whole.close()

        def truth(name: str, table: pa.Table) -> None:
            whole = writer(truth_dir, name, regroup=False)
            whole.write(table)
            whole.close()

        # invoices, streamed; per-edge totals for the truth table accumulate on disk as we go
        invoice_writer = table_out("invoices", regroup=False)  # a row group per batch of edges
        mention_writer = writer(truth_dir, "mentions", regroup=False)
        sums = _EdgeSums(spill, len(edges))
        item_truth: dict[tuple[str, str], str] = {}
        batches = max(1, -(-len(edges) // EDGE_BATCH))
        for number, (invoices, mentions, row_edge, goods) in enumerate(
                trade.invoice_batches(edges, counts, world, segments, seed, EDGE_BATCH, words, path)):
            say(f"invoices batch {number + 1}/{batches}", 0.2 + 0.6 * number / batches)
            invoice_writer.write(invoices)
            mention_writer.write(mentions)
            sums.add(invoices, row_edge)
            _collect_items(item_truth, invoices, row_edge, edges, segments, goods)
            world.release()
            edges.release()
            counts, path = remap(counts), remap(path)
        invoice_writer.close()
        summary.rows["invoices"] = invoice_writer.rows
        del counts

        say("credit outcomes", 0.82)
        stable_ties = _stable_large_ties(edges, world, sums)
        profile_outcomes = credit.standard if words is None else credit.blind
        outcomes = profile_outcomes(world, stable_ties, path, seeds_credit, spill)
        health_now = world.health + np.asarray(path[:, -1], np.float64)
        del path
        for name, tables in (("bureau", outcomes.bureau()), ("applications", outcomes.applications())):
            table_writer = table_out(name)
            for table in tables:
                table_writer.write(table)
                world.release()
            summary.rows[name] = table_writer.close()
        outcome_writer = table_out("outcomes")
        outcome_truth = writer(truth_dir, "outcomes", "parquet", "utf-8")
        for rows, truth_rows in outcomes.batches(FIRM_CHUNK):
            outcome_writer.write(rows)
            outcome_truth.write(truth_rows)
            world.release()
        summary.rows["outcomes"] = outcome_writer.close()
        outcome_truth.close()
        default_rate = outcomes.default_rate
        del outcomes

        say("registry and texts", 0.85)
        downstream_names = {src: "、".join(segments[t].name for t in targets[:2])
                            for src, (targets, _) in trade.downstream_map(ontology, segments).items()}
        product_writer, product_truth = table_out("products"), writer(truth_dir, "product_segments")
        for chunk in _chunks(firms):
            rows, truth_rows = texts.products(world, segments, downstream_names, rng_texts, words, chunk)
            product_writer.write(rows)
            product_truth.write(truth_rows)
            world.release()
        patent_counts = texts.patent_counts(world, segments, rng_texts)
        patent_writer = table_out("patents")
        mention_writer.regroup = True  # the patents' mentions: row groups as one write of them all made
        for chunk in _chunks(firms):
            rows, mentions = texts.patents(world, segments, patent_counts, rng_texts, words, chunk)
            patent_writer.write(rows)
            mention_writer.write(mentions)
            world.release()
        mention_writer.flush()
        mention_writer.regroup = False
        report_table, report_facts, report_mentions = texts.reports(world, segments, edges, directions, growth,
                                                                    sums.invoiced(), rng_texts, vocab=words)
        mention_writer.write(report_mentions)
        mention_writer.close()
        high_tech = ((patent_counts >= 3) & (rng_texts.random(firms) < 0.7)) | (rng_texts.random(firms) < 0.04)
        high_tech[0] = True
        del patent_counts

        enterprise_writer, alias_writer = table_out("enterprises"), table_out("aliases")
        firm_truth = writer(truth_dir, "firms")
        chain_of = np.array([s.id.split(".")[0] for s in segments])
        tier_of, segment_id = np.array([s.tier for s in segments]), np.array([s.id for s in segments])
        for chunk in _chunks(firms):
            a, b = chunk.start, chunk.stop
            enterprise_writer.write(pa.table({
                "uscc": world.uscc[a:b], "name": world.name[a:b], "scope": world.rows("scope", a, b),
                "industry_code": world.rows("industry_code", a, b), "province": world.rows("province", a, b),
                "city": world.city[a:b], "founded": pa.array(world.rows("founded", a, b).astype("datetime64[D]")),
                "registered_capital": world.rows("registered_capital", a, b), "high_tech": high_tech[a:b]}))
            alias_writer.write(_aliases(world, rng_texts, chunk))
            main = world.main_segment[a:b]
            firm_truth.write(pa.table({
                "uscc": world.uscc[a:b], "chain_id": chain_of[main].tolist(), "tier": tier_of[main].tolist(),
                "main_segment_id": segment_id[main].tolist(), "is_anchor": world.is_anchor[a:b],
                "size_class": world.size_class(a, b), "misregistered": world.rows("misregistered", a, b),
                "health": world.health[a:b], "city": world.city[a:b],
                "cluster_id": pa.array([c or None for c in world.rows("cluster", a, b).tolist()], pa.string()),
                "stable_large_ties": stable_ties[a:b].astype(np.int64), "pd_12m": default_rate[a:b],
                "health_now": np.round(health_now[a:b], 6)}))
            world.release()
        summary.rows["enterprises"], summary.rows["aliases"] = enterprise_writer.close(), alias_writer.close()
        summary.rows["products"], summary.rows["patents"] = product_writer.close(), patent_writer.close()
        product_truth.close()
        firm_truth.close()
        write("reports", report_table)

        segment_writer = writer(truth_dir, "firm_segments")
        for part in _firm_segments(world, segments):
            segment_writer.write(part)
            world.release()
        segment_writer.close()
        supply_writer = writer(truth_dir, "supply_edges")
        for span in trade.edge_slices(len(edges)):
            count = np.asarray(sums.count[span])
            supply = (edges.buyer[span] >= 0) & (count > 0)
            seller, buyer = edges.seller[span][supply], edges.buyer[span][supply]
            supply_writer.write(pa.table({
                "seller_uscc": world.uscc[seller], "buyer_uscc": take(world.uscc, buyer),  # buyers: all over
                "is_supply": edges.is_supply[span][supply], "amount_total": np.round(sums.amount[span][supply], 2),
                "invoice_count": count[supply].astype(np.int64),
                "first_date": pa.array(sums.first_day[span][supply].astype("datetime64[D]")),
                "last_date": pa.array(sums.last_day[span][supply].astype("datetime64[D]"))}))
            world.release()
            edges.release()
            sums.release()
        supply_writer.close()
        truth("segment_trends", pa.table({"segment_id": [s.id for s in segments], "direction": directions,
                                          "annual_growth": growth}))
        truth("report_facts", report_facts)
        truth("item_segments", pa.table({"item_name": [k[0] for k in item_truth], "tax_code": [k[1] for k in item_truth],
                                         "segment_id": list(item_truth.values())}))
        say("done", 1.0)
        return summary


def _collect_items(found: dict[tuple[str, str], str], invoices: pa.Table, row_edge: np.ndarray, edges: trade.Edges,
                   segments: list, product_line: np.ndarray) -> None:
    """Distinct (item, tax code) of goods invoices → the segment whose goods they are (freight, fees and
    other non-product lines of the blind profile name no segment)."""
    seg = edges.segment[row_edge]
    goods = (seg >= 0) & edges.is_supply[row_edge] & product_line
    items = invoices.column("item_name").to_numpy(zero_copy_only=False)[goods]
    codes = invoices.column("tax_code").to_numpy(zero_copy_only=False)[goods]
    for item, code, s in zip(items, codes, seg[goods], strict=True):
        if code:  # vague items ("货款") name no segment
            found.setdefault((str(item), str(code)), segments[s].id)


def _aliases(world: Firms, rng: np.random.Generator, chunk: range) -> pa.Table:
    """Short names for half the firms, former names for 60% of renamed ones: the rest only appear in text."""
    uscc, alias, kind = [], [], []
    for i in chunk:
        if rng.random() < 0.5:
            uscc.append(world.uscc[i])
            alias.append(world.brand[i] + world.trade[i][:2])
            kind.append("short")
        if world.former_name[i] and rng.random() < 0.6:
            uscc.append(world.uscc[i])
            alias.append(world.former_name[i])
            kind.append("former")
    return pa.table({"uscc": uscc, "alias": alias, "kind": kind})


def _firm_segments(world: Firms, segments: list) -> Iterator[pa.Table]:
    """Each firm's main segment with its share, then the second businesses, a chunk of firms at a time."""
    ids = np.array([s.id for s in segments])
    for chunk in _chunks(world.count):
        share = world.rows("secondary_share", chunk.start, chunk.stop)
        yield pa.table({"uscc": world.uscc[chunk.start:chunk.stop], "segment_id": ids[world.main_segment[chunk.start:chunk.stop]],
                        "share": 1.0 - share})
    for chunk in _chunks(world.count):
        second = world.secondary_segment[chunk.start:chunk.stop]
        has = second >= 0
        yield pa.table({"uscc": world.uscc[chunk.start:chunk.stop][has], "segment_id": ids[second[has]],
                        "share": world.rows("secondary_share", chunk.start, chunk.stop)[has]})


class _EdgeSums:
    """Per edge, on disk: the amount and count of its normal invoices and its first and last invoice day
    (voids left out), for the supply-edge truth and the stable ties. An invoice batch covers a contiguous
    run of edges, so each batch adds into its own slice (``add``)."""

    def __init__(self, folder: Path, count: int) -> None:
        self.amount = zeros(folder, "edge_amount", count, np.float64)
        self.count = zeros(folder, "edge_count", count, np.int32)  # int32 days and counts: 12 bytes an edge fewer
        self.first_day = zeros(folder, "edge_first", count, np.int32, np.iinfo(np.int32).max)
        self.last_day = zeros(folder, "edge_last", count, np.int32, np.iinfo(np.int32).min)

    def add(self, invoices: pa.Table, row_edge: np.ndarray) -> None:
        if not len(row_edge):
            return
        low, high = int(row_edge.min()), int(row_edge.max()) + 1
        local = row_edge - low
        status = invoices.column("status").to_numpy(zero_copy_only=False)
        amount = invoices.column("amount").to_numpy()
        days = invoices.column("issue_date").cast(pa.int32()).to_numpy()
        counted = status != "voided"
        for name, fold, rows, values in (("amount", np.add, counted, amount[counted]),
                                         ("count", np.add, status == "normal", 1),
                                         ("first_day", np.minimum, counted, days[counted]),
                                         ("last_day", np.maximum, counted, days[counted])):
            column: np.memmap = remap(getattr(self, name))
            part = np.array(column[low:high])
            fold.at(part, local[rows], values)
            column[low:high] = part
            column.flush()
            setattr(self, name, column)

    def invoiced(self) -> np.ndarray:
        """Per edge: whether normal invoices show it (in memory, a byte an edge)."""
        shown = np.zeros(len(self.count), bool)
        for span in trade.edge_slices(len(self.count)):
            shown[span] = np.asarray(self.count[span]) > 0
            self.release()
        return shown

    def release(self) -> None:
        for name in ("amount", "count", "first_day", "last_day"):
            setattr(self, name, remap(getattr(self, name)))


def _stable_large_ties(edges: trade.Edges, world: Firms, sums: _EdgeSums) -> np.ndarray:
    """Per firm: distinct large buyers (anchors or ≥ ¥100M) it supplied in invoices spanning at least 12
    calendar months (as invoiced: a customer lost in a bad spell is not a stable tie); a slice of edges at a time."""
    large = world.is_anchor | (world.turnover >= 1e8)
    ties = np.zeros(world.count, np.int32)
    for span in trade.edge_slices(len(edges)):
        invoiced = np.asarray(sums.count[span]) > 0
        buyer = np.asarray(edges.buyer[span])

        def month(days: np.ndarray, invoiced: np.ndarray = invoiced) -> np.ndarray:
            return np.where(invoiced, days, 0).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)

        first, last = month(np.asarray(sums.first_day[span])), month(np.asarray(sums.last_day[span]))
        stable = edges.is_supply[span] & (buyer >= 0) & invoiced & large[np.maximum(buyer, 0)] & (last - first + 1 >= 12)
        ties += np.bincount(edges.seller[span][stable], minlength=world.count).astype(np.int32)
        edges.release()
        sums.release()
    return ties
