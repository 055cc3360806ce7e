"""What the portal listens on, what browsers may do with it, and what it reaches for others."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from greenroom.posture.checks.common import by_deployment, falsy, show, truthy
from greenroom.posture.context import AuditContext, join
from greenroom.posture.model import Severity
from greenroom.posture.registry import Hit, check
from greenroom.posture.values import host_class, is_secret_key, url_host, url_scheme

ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "*"})  # noqa: S104 - the values being looked for
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "private-token", "x-auth-token", "api-key"})


@check(
    id="GR-NET-001",
    title="Backend listens on all interfaces",
    severity=Severity.LOW,
    category="network",
    why="""Binding every interface exposes the backend to any network the host is on, not just the
    reverse proxy in front of it; in a container that is expected, on a VM or laptop it rarely
    is.""",
    remediation="""
        backend:
          listen:
            host: 127.0.0.1     # or the one interface the reverse proxy reaches
            port: 7007
    """,
)
def listen_all_interfaces(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `backend.listen` binding every interface: no host (Backstage's default), `0.0.0.0`, `::`, or
    the `':7007'` string form. greenroom outside production is left to GR-CORE-006."""
    host = ctx.listen_host()
    if host is None or host not in ALL_INTERFACES:
        return
    if ctx.flavor == "greenroom" and not ctx.production:
        return  # GR-CORE-006 covers this case with the stronger message
    listen = ctx.get("backend.listen")
    shown = f"listen: {show(listen)}" if listen is not None else "backend.listen not set (all interfaces)"
    yield Hit("the backend binds to every network interface", key="backend.listen", evidence=shown)


@check(
    id="GR-NET-002",
    title="Base URL over plain HTTP for a non-local host",
    severity=Severity.HIGH,
    severity_note="high in production, medium otherwise",
    category="network",
    why="""Sign-in redirects, tokens and cookies travel over `baseUrl`; plain HTTP to anything but
    the local machine exposes them to every network hop, and browsers refuse Secure cookies.""",
    remediation="""
        app:
          baseUrl: https://portal.example.com
        backend:
          baseUrl: https://portal.example.com
    """,
)
def http_base_url(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `backend.baseUrl` and `app.baseUrl` with `http://` for a host that is not loopback."""
    for path in ("backend.baseUrl", "app.baseUrl"):
        value = ctx.text(path)
        if not value or url_scheme(value) != "http":
            continue
        host = url_host(value)
        kind = host_class(host) if host else "unknown"
        if kind in ("loopback", "unknown"):
            continue
        yield Hit(
            f"{path} uses plain HTTP for {host}",
            key=path,
            evidence=f"{path.rsplit('.', 1)[-1]}: {value}",
            severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM),
        )


def _origins(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


@check(
    id="GR-NET-003",
    title="CORS allows any origin",
    severity=Severity.CRITICAL,
    severity_note="with credentials: critical in production, high otherwise; low without credentials",
    category="network",
    why="""Backstage matches `cors.origin` as a glob and echoes the caller's origin: '*' with
    `credentials: true` lets any web page a signed-in user visits call the API with the user's
    cookies and read the answers.""",
    remediation="""
        backend:
          cors:
            origin: https://portal.example.com
            credentials: true
    """,
)
def cors_wildcard(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `backend.cors.origin` of '*' (or an equivalent glob), high when `backend.cors.credentials`
    is true."""
    origins = _origins(ctx.get("backend.cors.origin"))
    wild = [o for o in origins if o.strip() in ("*", "**", "http://*", "https://*", "*://*")]
    if not wild:
        return
    credentials = truthy(ctx.get("backend.cors.credentials"))
    severity = by_deployment(ctx, Severity.CRITICAL, Severity.HIGH) if credentials else Severity.LOW
    yield Hit(
        "CORS accepts every origin" + (" with credentials" if credentials else ""),
        key="backend.cors.origin",
        evidence=f"origin: {show(ctx.get('backend.cors.origin'))}, credentials: {credentials}",
        severity=severity,
    )


@check(
    id="GR-NET-004",
    title="CORS trusts insecure or development origins in production",
    severity=Severity.MEDIUM,
    severity_note="medium for plain-HTTP remote origins, low for localhost; production only",
    category="network",
    why="""A production backend that accepts credentialed requests from `http://` origins or from
    `localhost` trusts pages that anyone on the network path, or any local process, can
    serve.""",
    remediation="""
        backend:
          cors:
            origin: https://portal.example.com
    """,
)
def cors_insecure_origins(ctx: AuditContext) -> Iterator[Hit]:
    """In production, reports `backend.cors.origin` entries over plain HTTP (localhost ones at low
    severity)."""
    if not ctx.production:
        return
    for origin in _origins(ctx.get("backend.cors.origin")):
        if url_scheme(origin) != "http":
            continue
        host = url_host(origin) or ""
        kind = host_class(host)
        if kind == "unknown":
            continue
        yield Hit(
            f"CORS trusts {origin}",
            key="backend.cors.origin",
            evidence=f"origin: {origin}",
            severity=Severity.LOW if kind == "loopback" else Severity.MEDIUM,
        )


def _csp_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return []


@check(
    id="GR-NET-005",
    title="Content Security Policy loosened",
    severity=Severity.HIGH,
    severity_note="high for inline or wildcard scripts, medium for unsafe-eval, low for connect-src wildcards",
    category="network",
    why="""The CSP is what stops injected markup (from TechDocs pages, entity descriptions,
    plugins) from running script or sending data anywhere; `'unsafe-inline'`, `'unsafe-eval'`
    and scheme wildcards switch those protections off.""",
    remediation="""
        backend:
          csp:
            connect-src: ["'self'", 'https://api.github.com']
            script-src: ["'self'"]
    """,
)
def csp_loosened(ctx: AuditContext) -> Iterator[Hit]:
    """Reads `backend.csp`: `'unsafe-inline'`, `'unsafe-eval'` or scheme wildcards in `script-
    src`/`default-src`, `*`/`http:`/`https:` in `connect-src`, `upgrade-insecure-requests: false`,
    and protective directives removed with `false`."""
    csp = ctx.mapping("backend.csp")
    for directive, raw in csp.items():
        path = join("backend.csp", directive)
        values = _csp_values(raw)
        lowered = [v.lower() for v in values]
        if directive in ("script-src", "default-src", "script-src-elem"):
            for token, severity in (("'unsafe-inline'", Severity.HIGH), ("'unsafe-eval'", Severity.MEDIUM)):
                if token in lowered:
                    yield Hit(f"{directive} allows {token}", key=path, evidence=f"{directive}: {show(raw)}",
                              severity=severity)
            wild = [v for v in lowered if v in ("*", "http:", "https:", "data:")]
            if wild:
                yield Hit(f"{directive} allows scripts from {', '.join(wild)}", key=path,
                          evidence=f"{directive}: {show(raw)}", severity=Severity.HIGH)
        elif directive == "connect-src":
            wild = [v for v in lowered if v in ("*", "http:", "https:")]
            if wild:
                yield Hit(f"connect-src allows connections to {', '.join(wild)}", key=path,
                          evidence=f"{directive}: {show(raw)}", severity=Severity.LOW)
        if directive == "upgrade-insecure-requests" and falsy(raw):
            yield Hit("upgrade-insecure-requests is switched off", key=path, evidence=f"{directive}: false",
                      severity=Severity.LOW)
        if directive in ("default-src", "script-src", "object-src", "frame-ancestors") and falsy(raw):
            yield Hit(f"the {directive} directive is removed", key=path, evidence=f"{directive}: false",
                      severity=Severity.MEDIUM)


@check(
    id="GR-NET-006",
    title="URL reading allowed for wildcard or internal hosts",
    severity=Severity.HIGH,
    severity_note="high for '*', top-level wildcards, private, loopback or metadata hosts; low for subdomain wildcards",
    category="network",
    why="""`backend.reading.allow` decides which hosts the backend fetches on a user's behalf
    (catalog locations, `$text` substitutions, TechDocs); a wildcard or an internal host turns
    that into server-side request forgery against the internal network and cloud metadata.""",
    remediation="""
        backend:
          reading:
            allow:
              - host: raw.githubusercontent.com
              - host: gitlab.example.com
                paths: [/platform/]
    """,
)
def reading_allow(ctx: AuditContext) -> Iterator[Hit]:
    """Reads `backend.reading.allow`: hosts '*' or a top-level wildcard (`*.com`), subdomain wildcards
    (low), private, loopback and cloud-metadata hosts, and `dangerouslyAllowPrivateAddresses: true`."""
    for index, entry in enumerate(ctx.items("backend.reading.allow")):
        if not isinstance(entry, dict):
            continue
        path = f"backend.reading.allow[{index}]"
        raw_host = entry.get("host")
        if truthy(entry.get("dangerouslyAllowPrivateAddresses")):
            yield Hit(f"reading from {raw_host} may reach private addresses",
                      key=f"{path}.dangerouslyAllowPrivateAddresses", evidence="dangerouslyAllowPrivateAddresses: true")
        if not isinstance(raw_host, str):
            continue
        host = raw_host.strip().lower()
        name = host.split(":", 1)[0] if host.count(":") == 1 else host
        if name in ("*", "**") or (name.startswith("*.") and "." not in name[2:]):
            yield Hit(f"reading is allowed from any host matching '{raw_host}'", key=f"{path}.host",
                      evidence=f"host: {raw_host}")
        elif name.startswith("*."):
            yield Hit(f"reading is allowed from every subdomain of {name[2:]}", key=f"{path}.host",
                      evidence=f"host: {raw_host}", severity=Severity.LOW)
        elif host_class(name) in ("private", "loopback", "metadata"):
            yield Hit(f"reading is allowed from the internal host {raw_host}", key=f"{path}.host",
                      evidence=f"host: {raw_host}")


def proxy_endpoints(ctx: AuditContext) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, mount, settings) of every proxy endpoint, in the current and the older layout."""
    proxy = ctx.mapping("proxy")
    endpoints = proxy.get("endpoints") if isinstance(proxy.get("endpoints"), dict) else {}
    for base, table in (("proxy.endpoints", endpoints), ("proxy", proxy)):
        if not isinstance(table, dict):
            continue
        for mount, value in table.items():
            if base == "proxy" and not str(mount).startswith("/"):
                continue
            settings = {"target": value} if isinstance(value, str) else value
            if isinstance(settings, dict):
                yield join(base, str(mount)), str(mount), settings


@check(
    id="GR-NET-007",
    title="Proxy endpoint to an internal host without a header or credentials policy",
    severity=Severity.MEDIUM,
    category="network",
    why="""A proxy endpoint makes the backend an HTTP client for the browser: to an internal host,
    without `allowedHeaders` and an explicit `credentials` policy, it forwards what callers send
    into the internal network.""",
    remediation="""
        proxy:
          endpoints:
            /jenkins/api:
              target: https://jenkins.internal.example.com
              credentials: require
              allowedMethods: [GET]
              allowedHeaders: [Accept]
    """,
)
def proxy_internal(ctx: AuditContext) -> Iterator[Hit]:
    """Reads proxy endpoints (`proxy.endpoints.<path>` and the older `proxy.<path>`) whose target is a
    private, loopback or metadata host, and reports those with neither `allowedHeaders` nor
    `credentials`."""
    for path, mount, settings in proxy_endpoints(ctx):
        target = settings.get("target")
        host = url_host(target) if isinstance(target, str) else None
        if not host or host_class(host) not in ("private", "loopback", "metadata"):
            continue
        if settings.get("allowedHeaders") or settings.get("credentials"):
            continue
        yield Hit(
            f"proxy {mount} reaches internal host {host} with no allowedHeaders or credentials policy",
            key=f"{path}.target",
            evidence=f"target: {target}",
        )


@check(
    id="GR-NET-008",
    title="Proxy endpoint lends its credentials for every method",
    severity=Severity.MEDIUM,
    category="network",
    why="""A proxy endpoint that adds an Authorization or API-key header lets every portal user act
    with that credential; without `allowedMethods` they can also write (POST, PUT, DELETE) with
    it.""",
    remediation="""
        proxy:
          endpoints:
            /circleci/api:
              target: https://circleci.com/api/v1.1
              allowedMethods: [GET]
              headers:
                Circle-Token: ${CIRCLECI_AUTH_TOKEN}
    """,
)
def proxy_credentials_any_method(ctx: AuditContext) -> Iterator[Hit]:
    """Reports proxy endpoints that add credential headers (`Authorization`, API keys, tokens, cookies)
    without `allowedMethods`."""
    for path, mount, settings in proxy_endpoints(ctx):
        if settings.get("allowedMethods"):
            continue
        headers = settings.get("headers")
        names = set(headers) if isinstance(headers, dict) else set()
        # A header set from `${VAR}` is unresolved here, so it is not in the merged data.
        names |= {p.rsplit(".", 1)[-1] for p in ctx.unresolved_under(f"{path}.headers")}
        injected = sorted(h for h in names if is_secret_key(str(h)) or str(h).lower() in _CREDENTIAL_HEADERS)
        if injected:
            yield Hit(
                f"proxy {mount} adds {', '.join(injected)} to requests of any method",
                key=f"{path}.headers",
                evidence=f"headers: {', '.join(injected)}; allowedMethods: not set",
            )


@check(
    id="GR-NET-009",
    title="TLS certificate verification disabled",
    severity=Severity.HIGH,
    severity_note="high in production, medium otherwise",
    category="network",
    why="""Turning off certificate verification (`rejectUnauthorized: false`, `skipTLSVerify`, a
    proxy's `secure: false`) lets anyone on the network path impersonate the server and read or
    change the traffic, including the credentials sent with it.""",
    remediation="""
        proxy:
          endpoints:
            /developer-hub:
              target: https://hub.example.com
              secure: true
        kubernetes:
          clusterLocatorMethods:
            - type: config
              clusters:
                - url: https://k8s.example.com
                  caData: ${K8S_CA_DATA}      # trust the cluster's CA instead of skipping checks
    """,
)
def tls_verification_off(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `rejectUnauthorized: false`, `skipTLSVerify`/`insecureSkipTLSVerify: true`, `verifySsl:
    false` anywhere outside `backend.database`, and proxy endpoints with `secure: false`."""
    severity = by_deployment(ctx, Severity.HIGH, Severity.MEDIUM)
    for path, key, value in ctx.leaves():
        if path.startswith("backend.database"):
            continue  # GR-DATA-002 reports database TLS
        lowered = key.lower()
        if lowered == "rejectunauthorized" and falsy(value):
            yield Hit(f"'{path}' turns certificate verification off", key=path, evidence=f"{key}: false",
                      severity=severity)
        elif lowered in ("skiptlsverify", "insecureskiptlsverify", "tlsinsecure", "insecure_skip_verify") and truthy(
            value
        ):
            yield Hit(f"'{path}' skips certificate verification", key=path, evidence=f"{key}: true",
                      severity=severity)
        elif lowered in ("verifyssl", "sslverify", "verify_ssl", "tlsverify") and falsy(value):
            yield Hit(f"'{path}' turns certificate verification off", key=path, evidence=f"{key}: false",
                      severity=severity)
    for path, mount, settings in proxy_endpoints(ctx):
        if falsy(settings.get("secure")):
            yield Hit(f"proxy {mount} does not verify the target's certificate", key=f"{path}.secure",
                      evidence="secure: false", severity=severity)


@check(
    id="GR-NET-010",
    title="Proxy endpoint open to unauthenticated callers",
    severity=Severity.HIGH,
    category="network",
    why="""`credentials: dangerously-allow-unauthenticated` serves the proxy to anyone who can reach
    the portal, together with any credential headers the endpoint adds.""",
    remediation="""
        proxy:
          endpoints:
            /quay/api:
              target: https://quay.io
              credentials: require
    """,
)
def proxy_unauthenticated(ctx: AuditContext) -> Iterator[Hit]:
    """Reports proxy endpoints with `credentials: dangerously-allow-unauthenticated`."""
    for path, mount, settings in proxy_endpoints(ctx):
        if str(settings.get("credentials", "")).strip() == "dangerously-allow-unauthenticated":
            yield Hit(f"proxy {mount} accepts unauthenticated requests", key=f"{path}.credentials",
                      evidence="credentials: dangerously-allow-unauthenticated")
