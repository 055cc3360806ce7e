"""Prometheus metrics of the HTTP layer (plugins define their own next to their code)."""

from __future__ import annotations

from prometheus_client import Histogram

REQUEST_LATENCY = Histogram(
    "greenroom_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
