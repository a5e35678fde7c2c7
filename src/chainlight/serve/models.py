"""Request and response bodies of the HTTP API: the OpenAPI schema at /openapi.json is built from these."""

from __future__ import annotations

from typing import Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chainlight import uscc as uscc_codes
from chainlight.risk.decide import Decision as Decision  # the risk engine's own model is the response schema

# GB 32100's alphabet (no I, O, S, V, Z), lower case accepted; the check character is not expressible here
_CODE = "[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]"
USCC_PATTERN = f"^{_CODE}{{2}}[0-9]{{6}}{_CODE}{{10}}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionRequest(_Body):
    uscc: str = Field(..., min_length=18, max_length=18, pattern=USCC_PATTERN, examples=["91330400KDDLFDGN7Q"],
                      description="Applicant's unified social credit code (GB 32100; the check character is checked too).")
    amount: float = Field(..., gt=0, le=1e10, allow_inf_nan=False, description="Requested amount in yuan.",
                          examples=[2_000_000])
    application_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                                       description="The caller's application id (made up when absent).")

    @field_validator("uscc")
    @classmethod
    def _valid_uscc(cls, value: str) -> str:
        problem = uscc_codes.problem(value)
        if problem:
            raise ValueError(f"not a valid USCC: {problem}")
        return uscc_codes.normalise(value)


class SearchParams(_Body):
    """Query of GET /v1/enterprises; an unknown parameter (a typo such as ``?qq=``) is a 422, not ignored."""

    q: str = Field(..., min_length=1, max_length=100, description="A name as written (short names and typos work).")
    limit: int | None = Field(None, ge=1, le=200, description="Most results (default: serve.search_limit).")


class PageParams(_Body):
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class ErrorBody(BaseModel):
    error: str = Field(..., description="Error class, e.g. not_found, invalid_request, rate_limited.")
    detail: str = Field(..., description="One line saying what was wrong.")


class Health(BaseModel):
    status: str
    version: str
    workspace: str
    snapshot_loaded_at: str
    snapshot_seconds: float
    tables: dict[str, int]
    decisions_available: bool
    decisions_detail: str


class Registry(BaseModel):
    uscc: str
    name: str
    scope: str | None = None
    industry_code: str | None = None
    province: str | None = None
    city: str | None = None
    founded: str | None = None
    registered_capital: float | None = None
    high_tech: bool | None = None


class SegmentRef(BaseModel):
    segment_id: str
    segment_name: str | None = None
    chain_id: str | None = None
    tier: str | None = None
    share: float | None = None
    confidence: float | None = None
    rank: int | None = None


class Evidence(BaseModel):
    signal: str
    source_id: str | None = None
    detail: str | None = None
    weight: float | None = None


class Mount(SegmentRef):
    chain_name: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)


class Firm(BaseModel):
    uscc: str
    name: str | None = None
    chain_id: str | None = None
    tier: str | None = None
    is_anchor: bool | None = None
    segment_id: str | None = None


class SupplyEdge(BaseModel):
    seller_uscc: str
    buyer_uscc: str
    amount: float
    stability: float | None = None
    months_active: int | None = None


class Subgraph(BaseModel):
    center: str
    nodes: list[Firm]
    edges: list[SupplyEdge]


class AnchorPath(BaseModel):
    anchor: Firm
    hops: int
    firms: list[str] = Field(..., description="USCCs from this firm to the anchor, in supply order.")
    names: list[str | None] = Field(..., description="Their registered names.")
    amounts: list[float] = Field(..., description="Invoiced yuan on each hop.")


class MonthPoint(BaseModel):
    month: str
    amount: float
    invoices: int


class Claim(BaseModel):
    claim_id: str
    kind: str = Field(..., description="supplies, makes, high_tech, capacity, certification, praise, instruction…")
    source: str | None = None
    source_id: str | None = None
    span_text: str | None = Field(None, description="The exact text the claim was read from.")
    source_date: str | None = None
    subject_uscc: str | None = None
    subject_name: str | None = None
    object: str | None = Field(None, description="What is claimed: a buyer's USCC, a segment id, a flag.")
    object_name: str | None = None
    verdict: str | None = Field(None, description="supported, contradicted or unverifiable (null: the risk stage has not run).")
    detail: str | None = None
    evidence_ids: list[str] | None = None
    invoiced_amount: float | None = Field(None, description="For supply claims: yuan invoiced from subject to object.")
    invoiced_months: int | None = None


class TrendPoint(BaseModel):
    period: str
    direction: str | None = None
    strength: float | None = None
    growth_pct: float | None = None
    reports: int | None = None
    statements: int | None = None
    disagreement: bool | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)


class Operating(BaseModel):
    score: float | None = Field(None, description="0–100 operating score from hard data.")
    coverage: float | None = None
    method: str | None = None
    reasons: list[dict[str, Any]] = Field(default_factory=list)
    text: str | None = Field(None, description="The operating analysis in words; each sentence traces to figures.")
    language: str | None = None
    sentences: list[dict[str, Any]] = Field(default_factory=list)
    indicators: dict[str, Any] = Field(default_factory=dict)
    segment_trend: list[TrendPoint] = Field(default_factory=list)


class Profile(BaseModel):
    uscc: str
    registry: Registry
    aliases: list[dict[str, str]]
    products: list[dict[str, str | None]]
    registered_as: list[SegmentRef] = Field(..., description="What the registry alone suggests (scope, industry code).")
    makes: list[Mount] = Field(..., description="What the firm really makes: mounts with their evidence.")
    graph: dict[str, Any] | None = Field(None, description="The firm's graph features (supply position).")
    supply: Subgraph | None = None
    anchor_paths: list[AnchorPath] = Field(default_factory=list)
    monthly_sales: list[MonthPoint] = Field(default_factory=list)
    operating: Operating | None = Field(None, description="The expert stage's operating analysis, when it has run.")
    claims: list[Claim] = Field(default_factory=list)
    latest_decision: dict[str, Any] | None = None
    missing: list[str] = Field(default_factory=list, description="Parts not available in this workspace, and why.")


class SearchHit(BaseModel):
    uscc: str
    name: str | None = None
    city: str | None = None
    score: float
    method: str
    segment_id: str | None = None
    segment_name: str | None = None
    chain_id: str | None = None


class SearchResult(BaseModel):
    query: str
    results: list[SearchHit]


class ChainSummary(BaseModel):
    chain_id: str
    name: str
    tiers: list[str]
    ontology_version: str | None = None
    segments: int
    firms: int
    anchors: int


class SegmentNode(BaseModel):
    segment_id: str
    name: str
    tier: str | None = None
    tier_rank: int | None = None
    parent_id: str | None = None
    firms: int
    sales: float
    anchors: int


class SegmentFlow(BaseModel):
    source: str
    target: str
    amount: float
    edges: int
    ontology: bool | None = None


class OntologyEdge(BaseModel):
    source: str
    target: str
    weight: float | None = None
    cross_chain: bool | None = None


class ChainDetail(BaseModel):
    chain_id: str
    name: str
    tiers: list[str]
    ontology_version: str | None = None
    segments: list[SegmentNode]
    flows: list[SegmentFlow] = Field(..., description="Invoiced supply between main segments (yuan).")
    ontology_edges: list[OntologyEdge]
    outside_segments: dict[str, str] = Field(default_factory=dict, description="Names of other chains' segments in flows.")


class SegmentFirm(BaseModel):
    uscc: str
    name: str | None = None
    city: str | None = None
    confidence: float | None = None
    sales_total: float | None = None
    is_anchor: bool
    hops_to_anchor: int | None = None


class SegmentFirms(BaseModel):
    segment_id: str
    chain_id: str
    name: str
    tier: str | None = None
    total: int
    firms: list[SegmentFirm]


class AuditStatus(BaseModel):
    ok: bool
    entries: int
    first_bad: int | None = None
    message: str


USCC_PATH = Path(..., min_length=18, max_length=18, pattern=USCC_PATTERN, description="Unified social credit code.")
ID_PATH = Path(..., min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.:-]+$", description="An ontology id.")
