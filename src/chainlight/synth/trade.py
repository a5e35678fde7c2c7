"""Who sells to whom, and the invoices that show it.

Supply edges follow the ontology: a firm sells to firms of the segments its segment is upstream of,
preferring larger (and slightly healthier) buyers, so mid-tier suppliers concentrate on anchors. Each
edge lives for part of the 36 invoice months (churn, more for weak firms), its volume grows or shrinks
with the buyer segment's trend and the seller's health, and its invoices carry seasonality, voids
and red-letter reversals. Noise edges (services, office supplies, one-off buys) and sales to buyers
outside the registry are mixed in.

A seller's health path (``credit.health_path``: its deviation d from its lasting health, month by
month, σ 0.35–0.4) shows in that month's invoices (``invoice_batches``), with these effect sizes:
- orders: an invoice of a month with d < 0 is issued with probability e^(0.25·d), and every invoice's
  amount is × e^(0.25·d): a firm two deviations below its usual (d ≈ −0.8, where its default odds are
  2–2.4× its usual) sells about a third less (0.82 × 0.82 ≈ 0.67) — the order of the sales falls
  reported for SMEs in the year or two before they fail (declining sales and shrinking orders are among the
  earliest and best-documented signs of distress, e.g. in failure-prediction work since Beaver 1966 and
  in sales-growth factors of commercial SME default models), while good months add only through amount
  (buyers do not order more from a supplier because it is doing well; they order less from one in trouble);
- customers: each month a supply customer is lost with extra probability 0.025·max(0, −d) (2% a month,
  ~22% a year, at d = −0.8; none at or above its usual): buyers move orders away from a supplier they
  see struggling (late deliveries, quality slips), on top of the lasting-health churn of ``make_edges``;
- billing: voids and red-letter reversals × e^(−d) (× 2.2 at d = −0.8): disputes, returns and
  corrected invoices rise when a firm is under strain.
Invoices per firm: about ``INVOICES_PER_FIRM`` = 40 over the 36 months (a little fewer, from the orders
lost), ≈ 13 a year — raised from 20 (≈ 7 a year), which was far below real billing: VAT special invoices
carry a per-invoice face-value cap (¥100k on the common version, ¥1M on approval), so a ¥10M-a-year firm
issues at least 10–100 invoices a year and in practice more (partial deliveries, monthly statements).
40 is still well under that; the bound is the generation budget (one million firms in ≤ 5 min on this
machine, where invoice batches are about half the time), not any stage's figure.

Blind profile: anchors (核心企业) behave as the core firms of supply-chain finance do, the traits SCF
lenders screen a core firm's suppliers by, and nothing else marks them (``firms``: their names, dates and
registry follow size like any large firm's). Effect sizes, on top of the standard rules:
- **Many suppliers** — a buyer's pull on suppliers is ×``ANCHOR_SUPPLIER_PULL`` (3) for an anchor: it
  runs a centralised procurement with an approved-supplier list of hundreds of SMEs, about three times
  the suppliers a trading or assembly firm of the same turnover keeps (which buys from a few
  distributors). An anchor still competes on size: a large SME keeps the suppliers its turnover earns.
- **Dependent suppliers** — a supplier's sales to an anchor are weighted ×``ANCHOR_DEPENDENCE`` (3) in
  its split over customers, so a typical supplier with 3–4 customers sells about half its output to
  the anchor (customer-concentration disclosures of SME suppliers to vehicle, appliance and
  electronics makers commonly show a top customer taking 30–70% of sales).
- **Long steady ties** — an edge to an anchor is in place from the first month ``ANCHOR_TIE_FROM_START``
  (90%, against 70%) of the time and ends early at ``ANCHOR_CHURN`` (0.3×) the usual rate: qualified
  suppliers stay for a product's life cycle (4–7 years for a vehicle platform), so ties to core firms
  rarely churn inside three years.
Turnover is not touched: anchors' turnover still overlaps the largest SMEs' (``firms``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pyarrow as pa

from chainlight.ontology.model import Ontology, Segment
from chainlight.synth import names, noise
from chainlight.synth.firms import Firms, FirmView
from chainlight.synth.spill import Spill, block_rng, blocks, remap, zeros
from chainlight.synth.vocab import HELD_OUT_SHARE, Vocabulary

MONTHS = 36
STORY_EDGES = 2  # the first edges are the story's (nylon firm -> component maker -> anchor), always in place
START = np.datetime64("2023-01-01", "M")
INVOICES_PER_FIRM = 40.0  # over the 36 months: see the module docstring
NOISE_EDGE_SHARE = 0.15
OUTSIDE_BUYER_SHARE = 0.10
VOID_RATE, RED_RATE = 0.02, 0.01
# how the seller's monthly health deviation d shows in its invoices (module docstring)
ORDERS_PER_HEALTH = 0.25  # an invoice of a month with d < 0 is issued with probability e^(0.25·d)
AMOUNT_PER_HEALTH = 0.25  # every invoice's amount × e^(0.25·d)
LOSS_PER_HEALTH = 0.025  # extra monthly chance of losing a supply customer: 0.025·max(0, −d)
TROUBLE_BILLING = 1.0  # voids and red-letter reversals × e^(−1.0·d)
SEASON = np.array([1.0, 0.65, 1.0, 1.0, 1.0, 1.05, 0.95, 0.95, 1.05, 1.0, 1.1, 1.3])
NAME_VARIANTS = ["exact", "legal_form", "short", "bracket", "branch", "typo", "homophone", "former", "spacing"]
NAME_VARIANT_P = [0.55, 0.10, 0.09, 0.05, 0.05, 0.05, 0.04, 0.05, 0.02]
SERVICE_ITEMS = [("办公用品", "1060512"), ("物流运输服务", "3010101"), ("咨询服务费", "3040301"), ("餐饮服务", "3070401"),
                 ("技术服务费", "3040201"), ("设备维修费", "3040802"), ("会议服务", "3040302")]
# blind: more kinds of buyer names, a quarter of them from the noise model the resolver was not written for
BLIND_NAME_VARIANTS = ["exact", "legal_form", "short", "bracket", "branch", "former", *noise.NOISE_KINDS]
BLIND_NAME_VARIANT_P = [0.45, 0.06, 0.08, 0.03, 0.04, 0.06, 0.05, 0.04, 0.04, 0.04, 0.04, 0.03, 0.04]
BLIND_STALE_NAME = 0.25  # blind: a renamed buyer still kept under its old name in the seller's system
BLIND_NON_PRODUCT_SHARE = 0.08  # goods invoices billed as freight, fees, pallets, packaging, rebates
ANCHOR_SUPPLIER_PULL = 3.0  # blind: an anchor's pull on suppliers against a buyer of its size (docstring)
ANCHOR_DEPENDENCE = 3.0  # blind: weight of a supplier's sales to an anchor in its split over customers
ANCHOR_TIE_FROM_START, TIE_FROM_START = 0.9, 0.7  # share of edges in place from the first month
ANCHOR_CHURN = 0.3  # blind: an edge to an anchor ends early at this multiple of the usual rate
VAGUE_ITEMS = ["材料一批", "货款", "配件"]
OUTSIDE_BUYERS = ["个人", "散客", "零售客户", "某某个体工商户"]


@dataclass
class Edges:
    seller: np.ndarray
    buyer: np.ndarray  # -1 = a buyer outside the registry
    is_supply: np.ndarray
    annual_amount: np.ndarray
    start: np.ndarray  # first active month (0..35)
    end: np.ndarray  # last active month
    segment: np.ndarray  # the seller segment this edge's goods come from (-1 = services)
    growth: np.ndarray  # annual growth rate of the edge's volume

    def __len__(self) -> int:
        return len(self.seller)

    def release(self) -> None:
        """Map the columns afresh, so the pages the last batch read leave RSS (``spill.remap``)."""
        for name in EDGE_COLUMNS:
            setattr(self, name, remap(getattr(self, name)))


def downstream_map(ontology: Ontology, segments: list[Segment]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    index = {s.id: i for i, s in enumerate(segments)}
    out: dict[int, list[tuple[int, float]]] = {}
    for edge in ontology.edges():
        out.setdefault(index[edge.source], []).append((index[edge.target], edge.weight or 0.1))
    return {k: (np.array([t for t, _ in v]), np.array([w for _, w in v]) / sum(w for _, w in v))
            for k, v in out.items()}


def make_edges(ontology: Ontology, segments: list[Segment], firms: Firms, trend: np.ndarray,
               seeds: np.random.SeedSequence, folder: Path, blind: bool = False) -> Edges:
    """Supply and noise edges, a block of ``spill.FIRM_BLOCK`` sellers at a time from the block's own stream (a
    seller's edges all come from its block, so de-duplication and its split over customers stay within it),
    written to ``folder`` and mapped back; ``blind``: anchors get the core-firm traits of the module docstring.
    Buyers are drawn from each segment's pool by its cumulative attraction (~16 bytes a firm)."""
    n = firms.count
    downstream = downstream_map(ontology, segments)
    pools = _BuyerPools(firms, len(segments), blind)
    retail_segments = np.array([s.tier == "retail_service" for s in segments])
    spill = Spill(folder, "edges")
    for block, begin, stop in blocks(n):
        edges = _block_edges(firms, segments, downstream, pools, retail_segments, trend, begin, stop,
                             block_rng(seeds, block), blind)
        for name, values in edges.items():
            spill.append(name, values)
    return Edges(**{name: spill.finish(name) for name in EDGE_COLUMNS})


EDGE_COLUMNS = ("seller", "buyer", "is_supply", "annual_amount", "start", "end", "segment", "growth")


class _BuyerPools:
    """Each segment's firms (the buyers a supplier of an upstream segment draws from) with their cumulative
    attraction ∝ turnover^0.75·e^(0.3·health) (× ``ANCHOR_SUPPLIER_PULL`` for a blind anchor)."""

    def __init__(self, firms: Firms, segment_count: int, blind: bool) -> None:
        order = np.argsort(firms.main_segment, kind="stable")
        bounds = np.searchsorted(firms.main_segment[order], np.arange(segment_count + 1))
        attraction = firms.turnover[order] ** 0.75 * np.exp(0.3 * firms.health[order])
        if blind:
            attraction *= np.where(firms.is_anchor[order], ANCHOR_SUPPLIER_PULL, 1.0)
        self.members = [order[bounds[s]:bounds[s + 1]].astype(np.int32) for s in range(segment_count)]
        del order
        self.cumulative = [np.cumsum(attraction[bounds[s]:bounds[s + 1]]) for s in range(segment_count)]

    def draw(self, segment: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` buyers of ``segment``, each with probability ∝ its attraction (-1 when it has no firm)."""
        pool, cumulative = self.members[segment], self.cumulative[segment]
        if not len(pool):
            return np.full(size, -1)
        at = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
        return pool[np.minimum(at, len(pool) - 1)].astype(np.int64)


def _block_edges(firms: Firms, segments: list[Segment], downstream: dict[int, tuple[np.ndarray, np.ndarray]],
                 pools: _BuyerPools, retail_segments: np.ndarray, trend: np.ndarray, begin: int, stop: int,
                 rng: np.random.Generator, blind: bool) -> dict[str, np.ndarray]:
    """The edges whose sellers are firms ``begin:stop``: supply edges by segment, the story's two first."""
    n = firms.count
    main = firms.main_segment[begin:stop]
    second = firms.secondary_segment[begin:stop]
    turnover = firms.turnover[begin:stop]
    expected_customers = np.clip(1.0 + np.log10(turnover / 1e6), 1.0, 12.0)
    sellers, buyers, goods = [], [], []
    if begin == 0:  # the story: nylon firm -> component maker -> automotive anchor
        sellers.append(np.array([0, 1]))
        buyers.append(np.array([1, 2]))
        goods.append(np.array([firms.main_segment[0], firms.main_segment[1]]))
    for seg in range(len(segments)):
        if seg not in downstream:
            continue
        # the segment's own firms, plus firms with it as a second business
        local = np.concatenate([np.nonzero(main == seg)[0], np.nonzero(second == seg)[0]])
        if not len(local):
            continue
        k = 1 + rng.poisson(expected_customers[local])
        draws_seller = np.repeat(local + begin, k)
        targets, target_p = downstream[seg]
        target_seg = targets[rng.choice(len(targets), size=len(draws_seller), p=target_p)]
        draws_buyer = np.full(len(draws_seller), -1)
        for t in np.unique(target_seg):
            rows = np.nonzero(target_seg == t)[0]
            draws_buyer[rows] = pools.draw(int(t), len(rows), rng)
        keep = (draws_buyer >= 0) & (draws_buyer != draws_seller)
        sellers.append(draws_seller[keep])
        buyers.append(draws_buyer[keep])
        goods.append(np.full(int(keep.sum()), seg))
    seller, buyer, segment = np.concatenate(sellers), np.concatenate(buyers), np.concatenate(goods)
    _, first = np.unique(seller.astype(np.int64) * n + buyer, return_index=True)
    first.sort()
    seller, buyer, segment = seller[first], buyer[first], segment[first]
    is_supply = np.ones(len(seller), bool)

    # noise: services and one-off purchases to any firm; sales to buyers outside the registry
    noise = int(NOISE_EDGE_SHARE * len(seller))
    noise_seller, noise_buyer = rng.integers(begin, stop, noise), rng.integers(0, n, noise)
    ok = noise_seller != noise_buyer
    outside = int(OUTSIDE_BUYER_SHARE * (stop - begin))
    out_seller = np.concatenate([np.nonzero(retail_segments[main])[0] + begin, rng.integers(begin, stop, outside)])
    seller = np.concatenate([seller, noise_seller[ok], out_seller])
    buyer = np.concatenate([buyer, noise_buyer[ok], np.full(len(out_seller), -1)])
    segment = np.concatenate([segment, np.full(int(ok.sum()), -1), firms.main_segment[out_seller]])
    is_supply = np.concatenate([is_supply, np.zeros(int(ok.sum()) + len(out_seller), bool)])

    # volumes: a seller's turnover split over its customers; services are small
    share = rng.gamma(1.0, 1.0, len(seller))
    to_anchor = is_supply & (buyer >= 0) & firms.is_anchor[np.maximum(buyer, 0)] & blind
    if blind:
        share = np.where(to_anchor, ANCHOR_DEPENDENCE, 1.0) * share
    totals = np.bincount(seller - begin, weights=share, minlength=stop - begin)
    annual = firms.turnover[seller] * share / np.maximum(totals[seller - begin], 1e-9)
    annual = np.where(is_supply | (buyer < 0), annual, rng.lognormal(np.log(8000), 1.0, len(seller)))
    story = STORY_EDGES if begin == 0 else 0
    annual[:story] = [4.2e6, 3.6e7][:story]  # the story edges carry most of the nylon firm's ¥10M
    health = firms.health[seller]
    weak = health < -0.5
    from_start = np.where(to_anchor, ANCHOR_TIE_FROM_START, TIE_FROM_START)
    start = np.where(rng.random(len(seller)) < from_start, 0, rng.integers(0, MONTHS, len(seller)))
    ends_early = rng.random(len(seller)) < np.where(weak, 0.35, 0.15) * np.where(to_anchor, ANCHOR_CHURN, 1.0)
    end = np.where(ends_early, rng.integers(start, MONTHS), MONTHS - 1)
    one_off = ~is_supply & (buyer >= 0)
    end = np.where(one_off, np.minimum(start + rng.integers(0, 3, len(seller)), MONTHS - 1), end)
    start[:story], end[:story] = 0, MONTHS - 1
    seg_for_trend = np.where(buyer >= 0, firms.main_segment[np.maximum(buyer, 0)], firms.main_segment[seller])
    growth = trend[seg_for_trend] + 0.06 * health
    # kept narrow (29 bytes an edge, not 57)
    return {"seller": seller.astype(np.int32), "buyer": buyer.astype(np.int32), "is_supply": is_supply,
            "annual_amount": annual, "start": start.astype(np.int8), "end": end.astype(np.int8),
            "segment": segment.astype(np.int16), "growth": growth}


EDGE_SLICE = 1 << 18  # edges per slice of a pass over all edges (memory, not the draws: one stream read in order)


def edge_slices(count: int) -> Iterator[slice]:
    return (slice(begin, min(begin + EDGE_SLICE, count)) for begin in range(0, count, EDGE_SLICE))


def invoice_counts(edges: Edges, firm_count: int, rng: np.random.Generator, folder: Path) -> np.ndarray:
    """Invoices per edge: about INVOICES_PER_FIRM per firm overall, more for larger, longer edges (written to
    ``folder``, a slice of edges at a time; ``rng`` is read in edge order, so the slices draw as one call)."""
    def weight(span: slice) -> tuple[np.ndarray, np.ndarray]:
        months = (edges.end[span] - edges.start[span] + 1).astype(np.float64)
        return np.sqrt(edges.annual_amount[span]) * months, months

    total = 0.0
    for span in edge_slices(len(edges)):
        total += float(weight(span)[0].sum())
        edges.release()
    counts = zeros(folder, "invoice_counts", len(edges), np.int32)
    for span in edge_slices(len(edges)):
        share, months = weight(span)
        expected = np.minimum(share / total * INVOICES_PER_FIRM * firm_count, months * 3.0)
        drawn = np.floor(expected).astype(np.int64)
        drawn += rng.random(len(drawn)) < (expected - drawn)
        counts[span] = np.maximum(drawn, 1)
        counts = remap(counts)
        edges.release()
    return remap(counts)


def item_for(segment: Segment, rng: np.random.Generator, favourite: int = 0) -> tuple[str, str]:
    """A line item as a seller writes it: mostly its own main product, as a name or synonym, sometimes
    with a spec suffix."""
    pick = favourite if rng.random() < 0.75 else int(rng.integers(len(segment.products)))
    product = segment.products[pick % len(segment.products)]
    forms = [product.name, *product.synonyms]
    name = forms[int(rng.integers(len(forms)))]
    if rng.random() < 0.3:
        name += ["", " 一级品", "（定制）", " 批次", " 规格A"][int(rng.integers(5))]
    code = segment.tax_codes[int(rng.integers(len(segment.tax_codes)))]
    return name.strip(), code.ljust(19, "0")


def _lost_month(idx: np.ndarray, edges: Edges, path: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per edge of the batch: the month its customer is lost for the seller's trouble (MONTHS = never).
    Supply edges to registered buyers only; the story's two edges are kept (its chain is the story)."""
    seller = edges.seller[idx]
    hazard = LOSS_PER_HEALTH * np.maximum(-path[seller].T.astype(np.float32), 0.0)  # months × edges
    months = np.arange(MONTHS)[:, None]
    live = (months >= edges.start[idx][None, :]) & (months <= edges.end[idx][None, :])
    lost = live & (rng.random(hazard.shape, dtype=np.float32) < hazard)
    eligible = edges.is_supply[idx] & (edges.buyer[idx] >= 0) & (idx >= STORY_EDGES)
    return np.where(eligible & lost.any(axis=0), lost.argmax(axis=0), MONTHS)


def invoice_batches(edges: Edges, counts: np.ndarray, whole: Firms, segments: list[Segment],
                    seed: int, batch_edges: int, vocab: Vocabulary | None = None, path: np.ndarray | None = None
                    ) -> Iterator[tuple[pa.Table, pa.Table, np.ndarray, np.ndarray]]:
    """(invoices, mention truth, edge of each invoice row, whether the row's item names goods) per batch
    of edges; memory stays flat. ``vocab`` set = the blind profile. ``path`` (firms × months): each
    seller's health deviation by month (``credit.health_path``), shown in its orders, customers and
    billing (module docstring); None = a steady path (all zero)."""
    first_id = 0
    for batch, begin in enumerate(range(0, len(edges), batch_edges)):
        rng = np.random.default_rng([seed, 7, batch])
        stop = min(begin + batch_edges, len(edges))
        idx = np.arange(begin, stop)
        n_inv = counts[idx]
        named = np.concatenate([edges.seller[idx], edges.buyer[idx]])
        firms = cast(Firms, FirmView(whole, named[named >= 0]))  # the batch's firms, read through the files
        row_edge = np.repeat(idx, n_inv)
        total = len(row_edge)
        start, end = edges.start[row_edge], edges.end[row_edge]
        month = start + (rng.random(total) * (end - start + 1)).astype(np.int64)
        day = rng.integers(1, 29, total)
        issue = (START + month.astype("timedelta64[M]")).astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
        years = (edges.end[row_edge] - edges.start[row_edge] + 1) / 12.0
        base = edges.annual_amount[row_edge] * years / np.repeat(n_inv, n_inv)
        trend = (1.0 + edges.growth[row_edge]) ** ((month - 18) / 12.0)
        seller = edges.seller[row_edge]
        dev = np.zeros(total) if path is None else path[seller, month].astype(np.float64)
        amount = np.round(base * trend * SEASON[month % 12] * np.exp(AMOUNT_PER_HEALTH * dev)
                          * rng.lognormal(0, 0.3, total), 2)
        amount = np.maximum(amount, 1.0)
        trouble = np.exp(-TROUBLE_BILLING * dev)
        voided = rng.random(total) < VOID_RATE * np.where(firms.health[seller] < -1.0, 2.5, 1.0) * trouble

        items, codes, buyer_names, variants, goods = _batch_texts(idx, n_inv, edges, firms, segments, rng, vocab)
        if path is not None:  # orders not placed in a bad month, and none after the customer is lost
            lost = _lost_month(idx, edges, path, rng)
            kept = (rng.random(total) < np.exp(ORDERS_PER_HEALTH * np.minimum(dev, 0.0))) & (month < lost[row_edge - begin])
            kept[row_edge < STORY_EDGES] = True
            row_edge, month, issue, amount, voided, trouble = (a[kept] for a in (row_edge, month, issue, amount, voided, trouble))
            items, codes, buyer_names, variants, goods = (a[kept] for a in (items, codes, buyer_names, variants, goods))
            total = len(row_edge)
        status = np.where(voided, "voided", "normal")
        # red-letter reversals of some normal invoices, dated a little later
        red = np.nonzero((rng.random(total) < RED_RATE * trouble) & ~voided)[0]
        red_dates = np.minimum(issue[red] + rng.integers(1, 45, len(red)).astype("timedelta64[D]"),
                               np.datetime64("2025-12-31"))
        order = np.concatenate([np.arange(total), red])
        ids = np.array([f"INV{first_id + k:011d}" for k in range(len(order))])
        first_id += len(order)
        buyer = edges.buyer[row_edge[order]]
        has_code = (buyer >= 0) & (rng.random(len(order)) < 0.6)
        buyer_uscc = np.where(has_code, firms.uscc[np.maximum(buyer, 0)], None)
        invoices = pa.table({
            "invoice_id": ids,
            "seller_uscc": firms.uscc[edges.seller[row_edge[order]]],
            "buyer_name": buyer_names[order],
            "buyer_uscc": pa.array(buyer_uscc, pa.string()),
            "item_name": items[order],
            "tax_code": codes[order],
            "amount": np.concatenate([amount, -amount[red]]),
            "issue_date": pa.array(np.concatenate([issue, red_dates]).astype("datetime64[D]")),
            "status": np.concatenate([status, np.full(len(red), "red")]),
        })
        mentions = pa.table({
            "mention_id": np.char.add("invoice:", ids),
            "source": np.full(len(order), "invoice"),
            "source_id": ids,
            "name_as_written": buyer_names[order],
            "true_uscc": pa.array(np.where(buyer >= 0, firms.uscc[np.maximum(buyer, 0)], None), pa.string()),
            "variant": variants[order],
        })
        yield invoices, mentions, row_edge[order], goods[order]


def _batch_texts(idx: np.ndarray, n_inv: np.ndarray, edges: Edges, firms: Firms, segments: list[Segment],
                 rng: np.random.Generator, vocab: Vocabulary | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Line items and buyer names: each edge bills one way (a seller's system keeps a buyer's name)."""
    if vocab is not None:
        return _blind_batch_texts(idx, n_inv, edges, firms, segments, rng, vocab)
    items, codes, buyer_names, variants, goods = [], [], [], [], []
    for e, count in zip(idx, n_inv, strict=True):
        seg = edges.segment[e]
        buyer = edges.buyer[e]
        if seg < 0:
            item, code = SERVICE_ITEMS[int(rng.integers(len(SERVICE_ITEMS)))]
            code = code.ljust(19, "0")
            edge_items = [(item, code, False)] * count
        else:
            edge_items = []
            for _ in range(count):
                if rng.random() < 0.03:
                    edge_items.append((VAGUE_ITEMS[int(rng.integers(len(VAGUE_ITEMS)))], "", True))
                else:
                    edge_items.append((*item_for(segments[seg], rng, int(firms.main_product[edges.seller[e]])), True))
        if buyer < 0:
            name, kind = OUTSIDE_BUYERS[int(rng.integers(len(OUTSIDE_BUYERS)))], "outside"
        else:
            kind = NAME_VARIANTS[int(rng.choice(len(NAME_VARIANTS), p=NAME_VARIANT_P))]
            name = names.variant(firms.name[buyer], kind, rng, brand=firms.brand[buyer], trade=firms.trade[buyer],
                                 city=firms.city[buyer], former=firms.former_name[buyer] or None)
            if name == firms.name[buyer]:
                kind = "exact"
        for item, code, is_goods in edge_items:
            items.append(item)
            codes.append(code)
            goods.append(is_goods)
            if kind != "outside" and rng.random() < 0.1:  # now and then typed in full
                buyer_names.append(firms.name[buyer])
                variants.append("exact")
            else:
                buyer_names.append(name)
                variants.append(kind)
    return np.array(items), np.array(codes), np.array(buyer_names), np.array(variants), np.array(goods, bool)


def _blind_items(seg: np.ndarray, favourite: np.ndarray, segments: list[Segment], vocab: Vocabulary,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Product line items as an e-invoice prints them, ``*税收分类简称*商品名称 规格 单位``: the term held out
    about half of the time, mostly the seller's own main product, spec/packaging suffixes and units as
    written (drawn for all rows at once: this is the hot loop of a million-firm economy)."""
    total = len(seg)
    draw = rng.random((total, 5))
    pick = rng.integers(0, 1 << 30, (total, 4))
    items = np.empty(total, object)
    codes = np.empty(total, object)
    for s in np.unique(seg).tolist():
        rows = np.nonzero(seg == s)[0]
        segment = segments[s]
        words = vocab.segments[segment.id]
        seen, held = np.array(words.seen, object), np.array(words.held_out or words.seen, object)
        index = np.where(draw[rows, 0] < 0.75, favourite[rows], pick[rows, 0])
        terms = np.where(draw[rows, 1] < HELD_OUT_SHARE, held[index % len(held)], seen[index % len(seen)])
        units = np.array(words.units, object)[pick[rows, 1] % len(words.units)]
        tax_codes = np.array([c.ljust(19, "0") for c in segment.tax_codes], object)
        codes[rows] = tax_codes[pick[rows, 3] % len(tax_codes)]
        star = f"*{words.tax_short}*"
        for k, (row, term, unit) in enumerate(zip(rows.tolist(), terms.tolist(), units.tolist(), strict=True)):
            specs = vocab.specs.get(unit) or [""]
            parts = [term, specs[pick[row, 2] % len(specs)] if draw[row, 2] < 0.6 else "", unit if draw[row, 3] < 0.5 else ""]
            text = " ".join(p for p in parts if p)
            items[rows[k]] = star + text if draw[row, 4] < 0.8 else text
    return items, codes


def _blind_batch_texts(idx: np.ndarray, n_inv: np.ndarray, edges: Edges, firms: Firms, segments: list[Segment],
                       rng: np.random.Generator, vocab: Vocabulary
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The blind profile's line items and buyer names, drawn per batch: goods edges also bill freight,
    fees, pallets, packaging and rebates; a quarter of buyer names come from the noise model."""
    edge_of_row = np.repeat(np.arange(len(idx)), n_inv)
    row_edge = idx[edge_of_row]
    total = len(row_edge)
    seg = edges.segment[row_edge]
    draw = rng.random((total, 3))
    pick = rng.integers(0, 1 << 30, (total, 2))
    goods = seg >= 0
    non_product = goods & (draw[:, 0] < BLIND_NON_PRODUCT_SHARE)
    vague = goods & ~non_product & (draw[:, 1] < 0.03)
    product = goods & ~non_product & ~vague
    items = np.empty(total, object)
    codes = np.empty(total, object)
    service_of_edge = rng.integers(0, len(SERVICE_ITEMS), len(idx))[edge_of_row]
    for row in np.nonzero(~goods)[0].tolist():
        service = SERVICE_ITEMS[service_of_edge[row]]
        items[row], codes[row] = service[0], service[1].ljust(19, "0")
    for row in np.nonzero(non_product)[0].tolist():
        tax, line, code = vocab.noise_items[pick[row, 0] % len(vocab.noise_items)]
        items[row], codes[row] = f"*{tax}*{line}", code.ljust(19, "0")
    for row in np.nonzero(vague)[0].tolist():
        items[row], codes[row] = VAGUE_ITEMS[pick[row, 1] % len(VAGUE_ITEMS)], ""
    rows = np.nonzero(product)[0]
    items[rows], codes[rows] = _blind_items(seg[rows], firms.main_product[edges.seller[row_edge[rows]]], segments,
                                            vocab, rng)

    # one written buyer name per edge; now and then an invoice typed in full
    kinds = rng.choice(len(BLIND_NAME_VARIANTS), size=len(idx), p=BLIND_NAME_VARIANT_P)
    stale = rng.random(len(idx)) < BLIND_STALE_NAME
    outside_pick = rng.integers(0, len(OUTSIDE_BUYERS), len(idx))
    edge_name = np.empty(len(idx), object)
    edge_kind = np.empty(len(idx), object)
    for k, buyer in enumerate(edges.buyer[idx].tolist()):
        if buyer < 0:
            edge_name[k], edge_kind[k] = OUTSIDE_BUYERS[outside_pick[k]], "outside"
            continue
        registered = firms.name[buyer]
        kind = "former" if stale[k] and firms.former_name[buyer] else BLIND_NAME_VARIANTS[kinds[k]]
        if kind == "exact":
            name = registered
        elif kind in noise.NOISE_KINDS:
            name = noise.noisy(registered, kind, rng, brand=firms.brand[buyer], trade=firms.trade[buyer],
                               city=firms.city[buyer])
        else:
            name = names.variant(registered, kind, rng, brand=firms.brand[buyer], trade=firms.trade[buyer],
                                 city=firms.city[buyer], former=firms.former_name[buyer] or None)
        edge_name[k], edge_kind[k] = name, ("exact" if name == registered else kind)
    buyer_names, variants = edge_name[edge_of_row], edge_kind[edge_of_row]
    buyer = edges.buyer[row_edge]
    full = (rng.random(total) < 0.1) & (buyer >= 0)
    buyer_names[full] = firms.name[buyer[full]]
    variants[full] = "exact"
    return (items.astype(str), codes.astype(str), buyer_names.astype(str), variants.astype(str), product | vague)
