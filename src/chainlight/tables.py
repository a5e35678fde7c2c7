"""The table registry: every table, the stage that owns it, and its columns.

Input tables follow DESIGN.md's data contract exactly. Stages register their derived tables with
``register``; ``Workspace`` checks that a stage writes only its own tables and the declared columns.
Money is DOUBLE yuan (float64) everywhere: rounded to the cent on ingest, exact to the cent far
beyond any single firm's turnover, and the same type in DuckDB, Spark, Arrow and numpy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB/Spark-common SQL type
    required: bool = True  # for input tables: the file must have the column
    check: str = "text"  # ingest value check: see ingest.checks
    nullable: bool = False  # for input tables: an empty value is allowed


@dataclass(frozen=True)
class TableSpec:
    name: str
    owner: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, type_: str, check: str, *, nullable: bool = False) -> Column:
    return Column(name, type_, True, check, nullable)


INPUT_TABLES: dict[str, TableSpec] = {t.name: t for t in [
    TableSpec("enterprises", "ingest", (
        _c("uscc", "VARCHAR", "uscc"), _c("name", "VARCHAR", "text"),
        _c("scope", "VARCHAR", "text", nullable=True), _c("industry_code", "VARCHAR", "industry_code", nullable=True),
        _c("province", "VARCHAR", "text", nullable=True), _c("city", "VARCHAR", "text", nullable=True),
        _c("founded", "DATE", "date"), _c("registered_capital", "DOUBLE", "money_nonneg", nullable=True),
        _c("high_tech", "BOOLEAN", "bool")), key=("uscc",), description="The registry of enterprises."),
    TableSpec("aliases", "ingest", (
        _c("uscc", "VARCHAR", "uscc"), _c("alias", "VARCHAR", "text"), _c("kind", "VARCHAR", "alias_kind")),
        key=("uscc", "alias"), description="Known short, former and other names."),
    TableSpec("products", "ingest", (
        _c("uscc", "VARCHAR", "uscc"), _c("product_name", "VARCHAR", "text"),
        _c("description", "VARCHAR", "text", nullable=True)), key=("uscc", "product_name"),
        description="Product listings and catalogue text."),
    TableSpec("invoices", "ingest", (
        _c("invoice_id", "VARCHAR", "text"), _c("seller_uscc", "VARCHAR", "uscc"),
        _c("buyer_name", "VARCHAR", "text"), _c("buyer_uscc", "VARCHAR", "uscc", nullable=True),
        _c("item_name", "VARCHAR", "text"), _c("tax_code", "VARCHAR", "tax_code", nullable=True),
        _c("amount", "DOUBLE", "money"), _c("issue_date", "DATE", "date"),
        _c("status", "VARCHAR", "invoice_status")), key=("invoice_id",), description="VAT invoices, one line item each."),
    TableSpec("patents", "ingest", (
        _c("patent_id", "VARCHAR", "text"), _c("holder_name", "VARCHAR", "text"), _c("title", "VARCHAR", "text"),
        _c("abstract", "VARCHAR", "text", nullable=True), _c("ipc", "VARCHAR", "ipc", nullable=True),
        _c("apply_date", "DATE", "date"), _c("grant_date", "DATE", "date", nullable=True)),
        key=("patent_id",), description="Patents with their holder as written."),
    TableSpec("reports", "ingest", (
        _c("report_id", "VARCHAR", "text"), _c("title", "VARCHAR", "text"), _c("published", "DATE", "date"),
        _c("text", "VARCHAR", "text")), key=("report_id",), description="Industry research reports (untrusted text)."),
    TableSpec("bureau", "ingest", (
        _c("uscc", "VARCHAR", "uscc"), _c("max_overdue_days", "INTEGER", "count"),
        _c("open_litigations", "INTEGER", "count"), _c("tax_arrears", "BOOLEAN", "bool"),
        _c("blacklisted", "BOOLEAN", "bool")), key=("uscc",), description="Credit bureau and public-record data."),
    TableSpec("applications", "ingest", (
        _c("application_id", "VARCHAR", "text"), _c("uscc", "VARCHAR", "uscc"),
        _c("amount", "DOUBLE", "money_positive"), _c("applied_at", "TIMESTAMP", "timestamp")),
        key=("application_id",), description="Credit applications."),
    TableSpec("outcomes", "ingest", (
        _c("uscc", "VARCHAR", "uscc"), _c("observed_at", "DATE", "date"), _c("defaulted_12m", "BOOLEAN", "bool")),
        key=("uscc", "observed_at"), description="Training labels: default within 12 months of observed_at."),
]}

SYSTEM_TABLES: dict[str, TableSpec] = {t.name: t for t in [
    TableSpec("quarantine", "ingest", (  # a view over every file's failed rows and ingest_rejects
        Column("run_id", "VARCHAR"), Column("table_name", "VARCHAR"), Column("file", "VARCHAR"),
        Column("row", "BIGINT"), Column("field", "VARCHAR"), Column("reason", "VARCHAR"),
        Column("record", "VARCHAR")), description="Input rows not loaded, with the reason."),
    TableSpec("ingest_files", "ingest", (
        Column("file", "VARCHAR"), Column("table_name", "VARCHAR"), Column("content_sha256", "VARCHAR"),
        Column("format", "VARCHAR"), Column("encoding", "VARCHAR"), Column("rows_in", "BIGINT"),
        Column("rows_loaded", "BIGINT"), Column("rows_quarantined", "BIGINT"), Column("run_id", "VARCHAR"),
        Column("storage_table", "VARCHAR")),
        key=("file",), description="One row per ingested file: the row accounting and where its rows live."),
    TableSpec("ingest_rejects", "ingest", (
        Column("file", "VARCHAR"), Column("table_name", "VARCHAR"), Column("row", "BIGINT"),
        Column("reason", "VARCHAR"), Column("raw", "VARCHAR")),
        description="Lines the reader could not parse (part of the quarantine view)."),
    TableSpec("ingest_row_gaps", "ingest", (Column("file", "VARCHAR"), Column("gap", "BIGINT")),
              description="Per file, where rejected lines shift later rows' numbers."),
    TableSpec("runs", "workspace", (
        Column("run_id", "VARCHAR"), Column("stage", "VARCHAR"), Column("status", "VARCHAR"),
        Column("started_at", "TIMESTAMP"), Column("finished_at", "TIMESTAMP"), Column("stats", "VARCHAR")),
        key=("run_id",), description="Every batch run: stage, status, figures."),
]}

_DERIVED: dict[str, TableSpec] = {}


def register(spec: TableSpec) -> TableSpec:
    """Declare a derived table owned by a stage (called at import by the stage package)."""
    existing = _DERIVED.get(spec.name)
    if existing is not None and existing != spec:
        raise ValueError(f"table {spec.name} registered twice with different specs")
    _DERIVED[spec.name] = spec
    return spec


def derived() -> dict[str, TableSpec]:
    """Every derived table registered so far (import the stage packages first), by name."""
    return dict(_DERIVED)


def get(name: str) -> TableSpec | None:
    return INPUT_TABLES.get(name) or SYSTEM_TABLES.get(name) or _DERIVED.get(name)
