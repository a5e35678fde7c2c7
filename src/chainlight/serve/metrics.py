"""Prometheus metrics. With several workers, ``chainlight serve`` sets PROMETHEUS_MULTIPROC_DIR before
they start, so /metrics sums every worker (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

REQUESTS = Counter("chainlight_http_requests_total", "HTTP requests by route template and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("chainlight_http_request_seconds", "Request latency by route template.", ["route"],
                    buckets=(0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
DECISIONS = Counter("chainlight_decisions_total", "Credit decisions by outcome.", ["decision"])
SNAPSHOT_LOADED = Gauge("chainlight_snapshot_loaded_timestamp_seconds", "When the in-memory snapshot was loaded.",
                        multiprocess_mode="max")


_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # labelled series, looked up once each


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one request; the labelled series are cached (``labels`` takes a lock and builds a key each call)."""
    series = _CHILDREN.get((method, route, status))
    if series is None:
        series = _CHILDREN[(method, route, status)] = (
            REQUESTS.labels(method=method, route=route, status=str(status)), LATENCY.labels(route=route))
    series[0].inc()
    series[1].observe(seconds)


_DECISION_SERIES: dict[str, Any] = {}


def decided(outcome: str) -> None:
    series = _DECISION_SERIES.get(outcome)
    if series is None:
        series = _DECISION_SERIES[outcome] = DECISIONS.labels(decision=outcome)
    series.inc()


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
