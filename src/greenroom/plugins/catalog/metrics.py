"""Prometheus metrics of catalog ingestion."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

INGEST_DURATION = Histogram(
    "greenroom_catalog_ingest_duration_seconds",
    "Time to read and apply one location tree",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
INGEST_ENTITIES = Counter(
    "greenroom_catalog_ingested_entities_total", "Entities written by ingestion, by outcome", ["outcome"]
)
INGEST_RUNS = Counter(
    "greenroom_catalog_ingest_runs_total", "Location tree ingestions, by result (ok, errors, unchanged)", ["result"]
)
