"""greenroom's own safety switches: plugin pins, the audit trail, lockout, production mode."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from greenroom.posture.checks.common import by_deployment, falsy, show, truthy
from greenroom.posture.context import AuditContext
from greenroom.posture.model import Location, Severity
from greenroom.posture.packages import PythonPlugin
from greenroom.posture.registry import Hit, check
from greenroom.posture.values import host_class, url_host, url_scheme

MAX_LOCKOUT_ATTEMPTS = 20


@functools.cache
def builtin_plugin_ids() -> frozenset[str]:
    """Ids of the plugins shipped in the greenroom distribution (they need no allow-list entry)."""
    from greenroom.kernel.loader import discover

    return frozenset(c.id for c in discover() if c.builtin)


def _allow_entries(ctx: AuditContext) -> list[tuple[int, str, str | None]]:
    out: list[tuple[int, str, str | None]] = []
    for index, entry in enumerate(ctx.items("plugins.allow")):
        if isinstance(entry, str):
            out.append((index, entry, None))
        elif isinstance(entry, dict) and entry.get("id"):
            pin = entry.get("sha256")
            out.append((index, str(entry["id"]), str(pin).lower() if pin else None))
    return out


@check(
    id="GR-CORE-001",
    title="Third-party plugin allowed without a sha256 pin",
    severity=Severity.HIGH,
    severity_note="high in production, medium otherwise",
    category="greenroom",
    flavors=("greenroom",),
    why="""An allow-list entry without `sha256` trusts whatever distribution claims that plugin id
    at install time: a typosquatted or tampered wheel loads with the plugin's permissions. The
    pin ties the id to the exact files that were reviewed.""",
    remediation="""
        plugins:
          allow:
            - id: hello
              sha256: 9f2c...   # from `greenroom plugins list`
    """,
)
def unpinned_plugins(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `plugins.allow` entries for third-party plugins given as a bare id or without `sha256`;
    greenroom's built-in plugins need no entry."""
    builtins = builtin_plugin_ids()
    for index, plugin_id, pin in _allow_entries(ctx):
        if pin is None and plugin_id not in builtins:
            yield Hit(
                f"plugin '{plugin_id}' is allowed without a sha256 pin",
                key=f"plugins.allow[{index}]",
                evidence=f"allow: {plugin_id}",
                severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM),
            )


def _installed(ctx: AuditContext) -> list[PythonPlugin]:
    if ctx.installed_plugins is not None:
        return ctx.installed_plugins
    if ctx.inventory is not None and ctx.inventory.kind == "python":
        return ctx.inventory.plugins
    return []


@check(
    id="GR-CORE-002",
    title="Installed plugin not allow-listed or not matching its pin",
    severity=Severity.HIGH,
    severity_note="high for a pin mismatch, low for an installed plugin that is not allowed",
    category="greenroom",
    flavors=("greenroom",),
    why="""greenroom refuses a plugin that is installed but not allow-listed, or whose files no
    longer match its pin; the first is dead weight in the environment, the second means the
    distribution changed since it was reviewed.""",
    remediation="""
        plugins:
          allow:
            - id: hello
              sha256: <the value `greenroom plugins list` prints after reviewing the new version>
    """,
)
def installed_plugins(ctx: AuditContext) -> Iterator[Hit]:
    """With a Python environment (`--packages`, or the running process at start-up): installed
    `greenroom.plugins` entry points that `plugins.allow` does not name (low), and allowed plugins
    whose RECORD no longer matches their `sha256` pin."""
    allowed = {plugin_id: (index, pin) for index, plugin_id, pin in _allow_entries(ctx)}
    disabled = {str(p) for p in ctx.items("plugins.disabled")}
    builtins = builtin_plugin_ids()
    for plugin in _installed(ctx):
        if plugin.id in builtins or plugin.id in disabled:
            continue
        if plugin.id not in allowed:
            yield Hit(
                f"plugin '{plugin.id}' ({plugin.distribution} {plugin.version}) is installed but not allowed",
                location=Location(plugin.source, None, plugin.id),
                evidence=f"{plugin.distribution}=={plugin.version}",
                severity=Severity.LOW,
            )
            continue
        index, pin = allowed[plugin.id]
        if pin is not None and plugin.record_sha256 is not None and pin != plugin.record_sha256:
            yield Hit(
                f"plugin '{plugin.id}' does not match its sha256 pin and will be refused",
                key=f"plugins.allow[{index}].sha256",
                evidence=f"pinned {pin[:12]}…, installed {plugin.record_sha256[:12]}…",
            )


@check(
    id="GR-CORE-003",
    title="Audit trail switched off",
    severity=Severity.HIGH,
    severity_note="high in production, medium otherwise",
    category="greenroom",
    flavors=("greenroom",),
    why="""Without the audit trail nobody can tell who signed in, who changed a role or who
    deleted an entity, and threat-detection rules have nothing to read.""",
    remediation="""
        audit:
          enabled: true
    """,
)
def audit_off(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `audit.enabled: false`."""
    if falsy(ctx.get("audit.enabled")):
        yield Hit("the audit trail is off", key="audit.enabled", evidence="audit.enabled: false",
                  severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM))


@check(
    id="GR-CORE-004",
    title="Audit trail cannot be verified",
    severity=Severity.MEDIUM,
    category="greenroom",
    flavors=("greenroom",),
    why="""Without the hash chain an edited, deleted or reordered audit event goes unnoticed, so the
    trail proves nothing to an investigator.""",
    remediation="""
        audit:
          enabled: true
          hashChain: true
    """,
)
def audit_unverifiable(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `audit.hashChain: false` while the audit trail is on."""
    if falsy(ctx.get("audit.enabled")):
        return
    if falsy(ctx.get("audit.hashChain")):
        yield Hit("audit events are not hash-chained", key="audit.hashChain", evidence="audit.hashChain: false")


@check(
    id="GR-CORE-005",
    title="Sign-in lockout switched off or lax",
    severity=Severity.MEDIUM,
    severity_note="medium when off, low when the threshold is lax",
    category="greenroom",
    flavors=("greenroom",),
    why="""Lockout and rate limits are what make password spraying and token guessing against the
    sign-in and token endpoints slow enough to notice.""",
    remediation="""
        auth:
          lockout:
            enabled: true
            maxAttempts: 10
            duration: { minutes: 15 }
    """,
)
def lockout(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `auth.lockout.enabled: false`, and `auth.lockout.maxAttempts` above 20."""
    if falsy(ctx.get("auth.lockout.enabled")):
        yield Hit("sign-in lockout is off", key="auth.lockout.enabled", evidence="auth.lockout.enabled: false",
                  severity=Severity.MEDIUM)
        return
    attempts = ctx.get("auth.lockout.maxAttempts")
    if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts > MAX_LOCKOUT_ATTEMPTS:
        yield Hit(f"lockout only after {attempts} failed attempts", key="auth.lockout.maxAttempts",
                  evidence=f"maxAttempts: {attempts}", severity=Severity.LOW)


@check(
    id="GR-CORE-006",
    title="Production mode off on a non-loopback bind",
    severity=Severity.HIGH,
    category="greenroom",
    flavors=("greenroom",),
    why="""Outside production mode greenroom accepts literal secrets and skips the start-up posture
    gate; listening beyond loopback in that mode serves other machines with development
    safeguards.""",
    remediation="""
        app:
          production: true
        backend:
          listen:
            host: 0.0.0.0
            port: 7007
    """,
)
def production_off(ctx: AuditContext) -> Iterator[Hit]:
    """Reports a greenroom config that is not in production mode (`app.production` / `--production`) while
    `backend.listen` binds a non-loopback address."""
    if ctx.production:
        return
    host = ctx.listen_host()
    if host is None or host_class(host or "0.0.0.0") == "loopback":  # noqa: S104 - '' means every interface
        return
    listen = ctx.get("backend.listen")
    yield Hit(
        f"greenroom listens on {host or 'every interface'} without production mode",
        key="backend.listen",
        evidence=f"listen: {show(listen)}; app.production: {show(ctx.get('app.production', False))}",
    )


@check(
    id="GR-CORE-007",
    title="Secret store reached without TLS",
    severity=Severity.HIGH,
    category="greenroom",
    flavors=("greenroom",),
    why="""The Vault token or AWS credentials and every secret value cross this connection; over
    plain HTTP anyone on the path reads them all.""",
    remediation="""
        secrets:
          vault:
            address: https://vault.example.com:8200
            caFile: /etc/ssl/certs/vault-ca.pem
    """,
)
def secret_store_tls(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `secrets.vault.address` or `secrets.aws.endpointUrl` over `http://` to a host that is not
    loopback."""
    for path in ("secrets.vault.address", "secrets.aws.endpointUrl"):
        value = ctx.text(path)
        if not value or url_scheme(value) != "http":
            continue
        host = url_host(value) or ""
        if host_class(host) in ("loopback", "unknown"):
            continue
        yield Hit(f"{path} uses plain HTTP", key=path, evidence=f"{path.rsplit('.', 1)[-1]}: {value}")


def _audit_on(ctx: AuditContext) -> bool:
    return not falsy(ctx.get("audit.enabled"))


@check(
    id="GR-CORE-008",
    title="Audit trail neither forwarded nor signed",
    severity=Severity.MEDIUM,
    severity_note="medium in production, low otherwise",
    category="greenroom",
    flavors=("greenroom",),
    why="""The hash chain shows any edit that was not followed by rewriting every later hash. Someone
    with write access to the database can do exactly that; a copy outside the database (syslog, a
    webhook into a SIEM) or signatures with a key the database does not hold (`audit.signing.key`)
    are what make such a rewrite visible.""",
    remediation="""
        audit:
          signing:
            key: ${AUDIT_SIGNING_KEY}          # 32+ characters, from a secret store
          forwarding:
            webhook:
              url: https://siem.example.com/hooks/greenroom
              headers:
                Authorization: ${SIEM_TOKEN}
    """,
)
def audit_unanchored(ctx: AuditContext) -> Iterator[Hit]:
    """Reports an audit trail with no `audit.forwarding.syslog`/`webhook` and no `audit.signing.key`."""
    if not _audit_on(ctx):
        return
    if any(ctx.present(p) for p in ("audit.forwarding.syslog", "audit.forwarding.webhook", "audit.signing.key")):
        return
    yield Hit("audit events stay only in the database they describe, unsigned", key="audit",
              evidence="no audit.forwarding and no audit.signing.key",
              severity=by_deployment(ctx, Severity.MEDIUM, Severity.LOW))


@check(
    id="GR-CORE-009",
    title="Audit retention deletes events that were never exported",
    severity=Severity.HIGH,
    category="greenroom",
    flavors=("greenroom",),
    why="""With `dangerouslyDeleteUnexported` retention deletes old audit events whether or not anyone
    has a copy, so an investigation that starts after the retention period finds nothing.""",
    remediation="""
        audit:
          retention:
            days: 365
            dangerouslyDeleteUnexported: false   # export (greenroom audit-log export) or forward first
    """,
)
def audit_retention_unexported(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `audit.retention.dangerouslyDeleteUnexported: true` together with `audit.retention.days`."""
    if truthy(ctx.get("audit.retention.dangerouslyDeleteUnexported")) and ctx.present("audit.retention.days"):
        yield Hit("audit retention deletes events nobody exported or forwarded",
                  key="audit.retention.dangerouslyDeleteUnexported",
                  evidence="dangerouslyDeleteUnexported: true")


@check(
    id="GR-CORE-010",
    title="Audit events forwarded in plain text",
    severity=Severity.MEDIUM,
    severity_note="medium for an http webhook, low for syslog, to a host that is not loopback",
    category="greenroom",
    flavors=("greenroom",),
    why="""Audit events name users, addresses and what they did. Sent over plain HTTP or syslog to
    another host they can be read and altered on the way.""",
    remediation="""
        audit:
          forwarding:
            webhook:
              url: https://siem.example.com/hooks/greenroom    # https, not http
    """,
)
def audit_forwarding_plaintext(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `audit.forwarding.webhook.url` over `http://` and `audit.forwarding.syslog.host` (syslog
    has no TLS here), each only to a host that is not loopback."""
    url = ctx.text("audit.forwarding.webhook.url")
    if url and url_scheme(url) == "http" and host_class(url_host(url) or "") not in ("loopback", "unknown"):
        yield Hit("audit events go to the webhook over plain HTTP", key="audit.forwarding.webhook.url",
                  evidence=f"url: {url}", severity=Severity.MEDIUM)
    host = ctx.text("audit.forwarding.syslog.host")
    if host and host_class(host) not in ("loopback", "unknown"):
        protocol = ctx.text("audit.forwarding.syslog.protocol") or "udp"
        yield Hit(f"audit events go to syslog at {host} unencrypted ({protocol})", key="audit.forwarding.syslog.host",
                  evidence=f"host: {host}, protocol: {protocol}", severity=Severity.LOW)


@check(
    id="GR-CORE-011",
    title="A built-in security plugin switched off",
    severity=Severity.HIGH,
    category="greenroom",
    flavors=("greenroom",),
    why="""Without the RBAC plugin the foundation policy decides: the users in
    `permission.rbac.admin.users` get full access, including what RBAC would only let them
    manage, and no role or condition applies. Without the audit plugin nobody can read,
    export or verify the trail over the API.""",
    remediation="""
        plugins:
          disabled: []        # keep permission and audit on
    """,
)
def security_plugins_off(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `permission` or `audit` in `plugins.disabled`."""
    for index, item in enumerate(ctx.items("plugins.disabled")):
        plugin_id = str(item)
        if plugin_id == "permission":
            yield Hit("the RBAC plugin is switched off: the foundation policy gives RBAC admins full access",
                      key=f"plugins.disabled[{index}]", evidence="plugins.disabled: [permission]")
        elif plugin_id == "audit":
            yield Hit("the audit plugin is switched off: the trail cannot be read, exported or verified over the API",
                      key=f"plugins.disabled[{index}]", evidence="plugins.disabled: [audit]")
