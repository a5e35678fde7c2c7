"""One typed configuration: defaults → YAML file → environment → CLI flags (later wins).

Every setting has a default that runs the whole system offline (DuckDB, no LLM). Environment
variables are ``CHAINLIGHT_<SECTION>__<FIELD>`` (e.g. ``CHAINLIGHT_LLM__BASE_URL``). The README's
settings table is generated from these models, and a test fails when a setting has no description.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chainlight.errors import InputError

ENV_PREFIX = "CHAINLIGHT_"
MEMORY_AMOUNT = re.compile(r"\s*[0-9]+(\.[0-9]+)?\s*((([KMGT]i?)?B)|bytes|%)\s*", re.IGNORECASE)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EngineSettings(_Section):
    name: Literal["duckdb", "spark"] = Field("duckdb", description="Batch engine: embedded DuckDB or Apache Spark.")
    threads: int | None = Field(None, ge=1, description="Worker threads for DuckDB (default: all cores).")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. '8GB' (default: DuckDB's 80% of RAM).")
    spark_warehouse: Path | None = Field(
        None, description="Spark: folder of the Parquet tables and their manifest (default: <workspace>/spark).")
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Spark: session settings, e.g. {spark.driver.memory: 2g, spark.master: 'local[4]'} (local[*] by default).")
    spark_lock_wait: float = Field(
        0.0, ge=0, description="Spark: seconds a second writer waits for the warehouse's writer lock before failing.")
    spark_retain_seconds: float = Field(
        600.0, ge=0, description="Spark: a replaced table version folder is deleted this long after it was replaced "
                                 "(readers still on it finish first).")

    @field_validator("memory_limit")
    @classmethod
    def _memory_amount(cls, value: str | None) -> str | None:
        """Checked here so a typo names the setting instead of failing inside the engine."""
        if value is not None and not MEMORY_AMOUNT.fullmatch(value):
            raise ValueError(f"memory_limit must be an amount such as '8GB', '512MiB' or '80%', got {value!r}")
        return value


class IngestSettings(_Section):
    max_future_days: int = Field(1, ge=0, description="Dates more than this many days after today are impossible and quarantined.")
    min_year: int = Field(1949, description="Dates before this year are impossible and quarantined.")


class LLMSettings(_Section):
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; unset = offline extractor only.")
    model: str = Field("smollm2-135m-instruct", description="Model name sent to the endpoint.")
    api_key: str | None = Field(None, description="Bearer key for the endpoint (never logged).")
    max_calls: int = Field(200, ge=0, description="Call budget per run; the cascade stops asking the LLM beyond it.")
    max_tokens: int = Field(200_000, ge=0, description="Token budget per run (prompt + completion).")
    concurrency: int = Field(2, ge=1, description="Concurrent LLM requests.")
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout in seconds.")
    retries: int = Field(4, ge=0, description="Retries on 429, 5xx and timeouts, with exponential back-off.")
    local_model: bool = Field(False, description="With no base_url, start the bundled SmolLM2 llama.cpp server ([llm] extra).")


class ServeSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the HTTP API listens on.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes (each holds its own in-memory snapshot).")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest accepted request body (larger: 413).")
    rate_limit_per_second: int = Field(
        200, ge=1, description="Requests per API key per second, over all workers (more: 429); a loan flow needs ≥ 100.")
    snapshot_retry_s: float = Field(
        30.0, ge=0, description="How long start or reload waits for a batch run to release the workspace file.")
    search_limit: int = Field(20, ge=1, le=200, description="Most enterprises a name search returns.")


class ResolveSettings(_Section):
    registry: Literal["auto", "whole", "blocks"] = Field(
        "auto", description="How name resolution holds the registry: whole (each worker indexes all of it; fastest "
                            "where it fits), blocks (per group of names, only the entries their blocking keys reach; "
                            "memory flat in the registry's size), auto (whole in-process, blocks on a cluster engine).")
    names_per_group: int = Field(
        20_000, ge=1, description="Per blocking key: names a group decides together. A worker holds its group's "
                                  "candidates (1M firms: 2.7 GB at 20,000), so lower it for smaller workers; larger "
                                  "groups share more candidates and cost less in all.")


class GraphSettings(_Section):
    anchors: list[str] = Field(default_factory=list, description="USCCs always treated as anchor enterprises (核心企业).")
    anchor_top_k: int = Field(
        8, ge=0, description="At most this many anchors per chain found from the data (0: only the graph.anchors list).")
    anchor_false_rate: float = Field(
        0.25, gt=0, lt=1, description="A firm of a chain's most downstream making tier is an anchor when its size stands out "
                                      "from the tier's firms further than one of them would by chance with this "
                                      "probability (the largest always is).")
    min_edge_amount: float = Field(10_000.0, ge=0, description="Edges below this many yuan are not supply.")
    min_recurring_months: int = Field(3, ge=1, description="Without mounts, an edge is supply only if active this many months.")
    stable_min_months: int = Field(6, ge=1, description="A stable tie lasts at least this many active months…")
    stable_min_stability: float = Field(0.25, ge=0, le=1, description="…and has at least this stability (0–1).")
    large_firm_sales: float = Field(3e8, ge=0, description="Sales (yuan, whole period) above which a buyer counts as large.")
    cluster_min_size: int = Field(5, ge=2, description="Firms of one segment in one city form a cluster from this size.")


class RiskSettings(_Section):
    policy: Path | None = Field(None, description="Credit policy YAML; unset = the packaged default (risk/policy/default.yaml).")
    train_before: str = Field(
        "2025-01-01", description="Outcomes observed before this date train the scorecards; later ones test them.")
    reason_count: int = Field(
        3, ge=1, le=10, description="Model reasons shown per decision in each direction (adverse, favourable).")
    train_max_rows: int = Field(
        1_000_000, ge=1000, description="Most training rows the scorecards are fitted on (they fit in one process, on "
                                        "Spark the driver: 1M rows of the features ≈ 0.3 GB); above it a stable hash "
                                        "sample of the (firm, date) rows is taken.")
    audit_fsync: bool = Field(
        True, description="Flush each audit entry to disk before its decision returns "
                          "(off: faster; the newest entries may be lost in a crash).")


class ExpertSettings(_Section):
    language: Literal["zh", "en"] = Field("zh", description="Language of the generated firm profile text.")
    trend_half_life_days: float = Field(
        365.0, gt=0, description="A report's weight in a trend judgment halves with each this many days of age.")
    churn_gap_months: int = Field(
        6, ge=1, description="A customer unseen this many months (and 3 usual gaps) before the data end is lost.")
    train_until: date = Field(
        date(2024, 12, 31), description="Operating-score weights are fitted on outcomes observed up to this date only.")
    llm_max_reports: int = Field(
        40, ge=0, description="Reports the trend reader may send to the LLM (only those the offline reader is unsure of).")


class Config(_Section):
    engine: EngineSettings = Field(default_factory=EngineSettings, description="Batch engine.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Input checks.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="Optional LLM endpoint.")
    serve: ServeSettings = Field(default_factory=ServeSettings, description="HTTP service.")
    resolve: ResolveSettings = Field(default_factory=ResolveSettings, description="Name resolution.")
    graph: GraphSettings = Field(default_factory=GraphSettings, description="Supply graph.")
    risk: RiskSettings = Field(default_factory=RiskSettings, description="Risk engine.")
    expert: ExpertSettings = Field(default_factory=ExpertSettings, description="Industry research expert.")
    ontology: Path | None = Field(None, description="Chain ontology YAML; unset = the 9 default chains.")
    seed: int = Field(42, description="Seed for every random choice a stage makes (reproducible runs).")


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``CHAINLIGHT_<SECTION>__<FIELD>`` for known settings only; other CHAINLIGHT_* variables (such as
    CHAINLIGHT_SHARED_DATA for the tests) are not settings and are left alone."""
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        path = key[len(ENV_PREFIX):].lower().split("__")
        if path[0] not in Config.model_fields:
            continue
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        elif value is not None:
            merged[key] = value
    return merged


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Build the config; a bad file or value is an InputError naming the setting."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError as exc:
            raise InputError(f"config is not UTF-8 text (byte {exc.start})", file=str(path)) from exc
        except OSError as exc:
            raise InputError(f"cannot read config: {exc.strerror or exc}", file=str(path)) from exc
        except yaml.YAMLError as exc:
            raise InputError(f"config is not valid YAML: {' '.join(str(exc).split())}", file=str(path)) from exc
        if not isinstance(loaded, dict):
            raise InputError("config must be a YAML mapping", file=str(path))
        data = loaded
    data = _merge(data, _env_overrides(os.environ if environ is None else environ))
    data = _merge(data, overrides or {})
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(first["msg"], file=str(path) if path else "config", field=field) from exc


def iter_settings(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[tuple[str, Any, str]]:
    """(dotted name, default, help) of every leaf setting: drives the README table and its test."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from iter_settings(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field.get_default(call_default_factory=True), field.description or ""
