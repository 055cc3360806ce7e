"""Where the portal keeps its data and how it gets there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from greenroom.posture.checks.common import by_deployment, falsy, show
from greenroom.posture.context import AuditContext
from greenroom.posture.model import Severity
from greenroom.posture.registry import Hit, check
from greenroom.posture.values import host_class

SQLITE = frozenset({"better-sqlite3", "sqlite3", "sqlite"})
POSTGRES = frozenset({"pg", "postgres", "postgresql"})


def _in_memory(connection: Any) -> bool:
    if connection is None or connection == ":memory:":
        return True
    return isinstance(connection, dict) and connection.get("filename") == ":memory:"


@check(
    id="GR-DATA-001",
    title="Embedded or in-memory database in production",
    severity=Severity.HIGH,
    severity_note="high for in-memory; medium for a SQLite file on Backstage, low on greenroom; production only",
    category="data",
    why="""An in-memory database loses the catalog, roles, sessions and audit trail on every
    restart, and each replica has its own; Backstage supports SQLite for development only.
    greenroom supports a SQLite file on a single machine.""",
    remediation="""
        backend:
          database:
            client: pg
            connection:
              host: ${POSTGRES_HOST}
              port: 5432
              user: ${POSTGRES_USER}
              password: ${POSTGRES_PASSWORD}
              ssl:
                ca:
                  $file: /etc/ssl/certs/postgres-ca.pem
    """,
)
def embedded_database(ctx: AuditContext) -> Iterator[Hit]:
    """In production, reports `backend.database.client` `better-sqlite3`/`sqlite3`: in memory (`:memory:`
    or no connection) at high, a file at medium (Backstage) or low (greenroom)."""
    if not ctx.production or ctx.unresolved_under("backend.database.client"):
        return
    client = str(ctx.get("backend.database.client", "")).strip()
    if client not in SQLITE:
        return
    connection = ctx.get("backend.database.connection")
    if ctx.unresolved_under("backend.database.connection") and connection is None:
        return
    if _in_memory(connection):
        yield Hit(
            "the production database is in memory: everything is lost on restart",
            key="backend.database.connection",
            evidence=f"client: {client}, connection: {show(connection if connection is not None else ':memory:')}",
            severity=Severity.HIGH,
        )
    else:
        yield Hit(
            "the production database is a SQLite file",
            key="backend.database.client",
            evidence=f"client: {client}",
            severity=Severity.LOW if ctx.flavor == "greenroom" else Severity.MEDIUM,
        )


@check(
    id="GR-DATA-002",
    title="PostgreSQL connection without verified TLS",
    severity=Severity.HIGH,
    severity_note="high in production, medium otherwise; medium when the host is only known at deploy time",
    category="data",
    why="""The database connection carries the password and every entity, role, session and
    audit record; without TLS, or with TLS that does not verify the server, anyone on the path
    can read it or pose as the database.""",
    remediation="""
        backend:
          database:
            client: pg
            connection:
              host: ${POSTGRES_HOST}
              password: ${POSTGRES_PASSWORD}
              ssl:
                rejectUnauthorized: true
                ca:
                  $file: /etc/ssl/certs/postgres-ca.pem
    """,
)
def postgres_tls(ctx: AuditContext) -> Iterator[Hit]:
    """For `client: pg`, reads `backend.database.connection` (object, URL or `connectionString`): no `ssl`
    (or `ssl: false`, `sslmode` below `verify-ca`) to a non-loopback host, and
    `ssl.rejectUnauthorized: false`. A host given by a reference is reported only in production, at
    medium, because `PGSSLMODE` may set TLS."""
    client = str(ctx.get("backend.database.client", "")).strip()
    if client not in POSTGRES:
        return
    connection = ctx.get("backend.database.connection")
    if isinstance(connection, dict) and isinstance(connection.get("connectionString"), str):
        connection = connection["connectionString"]
    for path in ("backend.database.connection", "backend.database.connection.connectionString"):
        # A URL with `${PASSWORD}` in it is unresolved as a whole; its host is still readable.
        text = ctx.unresolved(path)
        if connection in (None, {}) and text and "://" in text:
            connection = text
    if isinstance(connection, str):
        yield from _url_connection(ctx, connection)
        return
    base = "backend.database.connection"
    settings = connection if isinstance(connection, dict) else {}
    host = settings.get("host")
    if isinstance(host, str) and host.startswith("/"):
        return  # a Unix socket
    kind = host_class(str(host)) if isinstance(host, str) else "unknown"
    if kind == "loopback":
        return
    ssl = settings.get("ssl")
    ssl_path = f"{base}.ssl"
    if isinstance(ssl, dict):
        if falsy(ssl.get("rejectUnauthorized")):
            yield Hit("the database connection uses TLS but does not verify the server",
                      key=f"{ssl_path}.rejectUnauthorized", evidence="ssl.rejectUnauthorized: false",
                      severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM))
        return
    if ssl is True or (isinstance(ssl, str) and ssl.lower() == "true") or ctx.unresolved_under(ssl_path):
        if ctx.flavor == "greenroom" and ssl is True:
            yield Hit("`ssl: true` encrypts but does not verify the server (sslmode=require)", key=ssl_path,
                      evidence="ssl: true", severity=Severity.MEDIUM)
        return
    where = f"host {host}" if isinstance(host, str) and kind != "unknown" else "a host set at deploy time"
    shown = "ssl: false" if falsy(ssl) else "ssl not configured"
    if kind == "unknown":
        if not ctx.production:
            return
        yield Hit(f"the connection to {where} has no TLS configured (unless PGSSLMODE sets it)",
                  key=ssl_path if falsy(ssl) else base, evidence=shown, severity=Severity.MEDIUM)
        return
    yield Hit(f"the connection to {where} is not encrypted", key=ssl_path if falsy(ssl) else base,
              evidence=shown, severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM))


def _url_connection(ctx: AuditContext, url: str) -> Iterator[Hit]:
    path = "backend.database.connection"
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    host = parts.hostname
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
    if "host" in query:
        host = query["host"]
    if not host or host.startswith("/") or host_class(host) == "loopback":
        return
    mode = (query.get("sslmode") or "").lower()
    if mode in ("verify-full", "verify-ca"):
        return
    if mode == "require" or query.get("ssl") == "true":
        yield Hit("the database connection uses TLS but does not verify the server", key=path,
                  evidence=f"sslmode={mode or 'ssl=true'}", severity=Severity.MEDIUM)
        return
    kind = host_class(host)
    if kind == "unknown" and not ctx.production:
        return
    yield Hit(f"the connection to {host if kind != 'unknown' else 'the database'} is not guaranteed to use TLS",
              key=path, evidence=f"sslmode={mode or 'not set'}",
              severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM) if kind != "unknown" else Severity.MEDIUM)
