"""Structured logs with secret redaction, request context, and metrics."""
