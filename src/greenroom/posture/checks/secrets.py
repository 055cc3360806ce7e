"""Secrets written into config files instead of referenced from where secrets belong."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from greenroom.posture.checks.common import by_deployment
from greenroom.posture.context import AuditContext
from greenroom.posture.model import Location, Severity
from greenroom.posture.registry import Hit, check
from greenroom.posture.values import (
    find_tokens,
    high_entropy,
    is_placeholder,
    is_secret_key,
    names_secret_object,
    redact,
    token_evidence,
    weakness,
)

# Secret-sounding keys whose values are public or are settings, not credentials.
_PUBLIC_MATERIAL_KEYS = frozenset({"cert", "certificate", "ca", "cadata", "publickey"})
_SETTING_VALUES = frozenset(
    {"require", "forward", "dangerously-allow-unauthenticated", "include", "omit", "same-origin"}
)
_URL_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.IGNORECASE)


def _secret_literals(ctx: AuditContext) -> Iterator[tuple[str, str, str]]:
    """(path, key, value) of literal values under secret-named keys and in URL credentials."""
    for path, key, value in ctx.leaves():
        if isinstance(value, bool) or value is None:
            continue
        text = str(value)
        if not text.strip() or ctx.is_placeholder_value(text):
            continue
        if (
            is_secret_key(key)
            and key.lower() not in _PUBLIC_MATERIAL_KEYS
            and text not in _SETTING_VALUES
            and not names_secret_object(key, text)
        ):
            if not ctx.is_reference(path) or ctx.from_default(path):
                yield path, key, text
            continue
        match = _URL_CREDENTIALS.match(text)
        if match and "${" not in match["password"] and not ctx.is_reference(path):
            yield path, key, match["password"]


@check(
    id="GR-SEC-001",
    title="Literal secret in the config file",
    severity=Severity.CRITICAL,
    severity_note="critical in production, high otherwise; low for obvious placeholders",
    category="secrets",
    why="""A secret written into a config file is in every copy of it: the repository and its
    history, container images, CI logs and ConfigMaps. It cannot be rotated without a
    redeploy and is readable by everyone who can read the config.""",
    remediation="""
        auth:
          providers:
            github:
              production:
                clientSecret: ${AUTH_GITHUB_CLIENT_SECRET}      # from the environment
        backend:
          database:
            connection:
              password:
                $file: /run/secrets/postgres-password          # or a mounted file
          auth:
            keys:
              - secret:
                  $vault: { path: greenroom/backend, key: authKey }   # greenroom: a secret store
    """,
)
def literal_secrets(ctx: AuditContext) -> Iterator[Hit]:
    """Walks the merged config (and, for Helm values, the values around the app-config) for literal values
    under secret-named keys (`password`, `clientSecret`, `token`, `secret`, `privateKey`, `apiKey`,
    `credentials`, `Authorization`, ...) and credentials embedded in URLs; a value counts as a
    reference when it came from `${VAR}`, `$env`, `$file`, `$include`, `$vault` or `$awsSecret`,
    except a `${VAR:-fallback}` whose fallback is a secret. Obvious placeholders are grouped into
    one low finding per file."""
    placeholders: dict[str, list[tuple[Location, str]]] = {}
    for path, key, value in _secret_literals(ctx):
        location = ctx.location(path)
        if is_placeholder(value):
            placeholders.setdefault(location.file or "", []).append((location, path))
            continue
        ctx.remember_secret(value)
        how = "a `${VAR:-default}` fallback" if ctx.from_default(path) else "a literal"
        yield Hit(
            f"'{path}' holds {how} secret instead of a reference",
            key=path,
            evidence=f"{key}: {redact(value)}",
            severity=by_deployment(ctx, Severity.CRITICAL, Severity.HIGH),
        )
    for tree in ctx.outer:
        for path, key, value in _outer_leaves(tree.data, ""):
            text = str(value)
            if not is_secret_key(key) or not text.strip() or "${" in text or "{{" in text:
                continue
            if names_secret_object(key, text) or key.lower() in _PUBLIC_MATERIAL_KEYS:
                continue
            location = Location(tree.file, tree.lines.get(path), path)
            if is_placeholder(text):
                placeholders.setdefault(tree.file, []).append((location, path))
                continue
            ctx.remember_secret(text)
            yield Hit(
                f"'{path}' in the values around the app-config holds a literal secret",
                location=location,
                evidence=f"{key}: {redact(text)}",
                severity=by_deployment(ctx, Severity.CRITICAL, Severity.HIGH),
            )
    for _file, entries in placeholders.items():
        first, _ = entries[0]
        keys = [p for _, p in entries]
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        yield Hit(
            f"placeholder values under secret keys ({shown}); the deployed config must reference real secrets",
            location=first,
            evidence=f"{len(keys)} placeholder literal(s)",
            severity=Severity.LOW,
        )


def _outer_leaves(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(item, dict | list):
                yield from _outer_leaves(item, child)
            elif item is not None and not isinstance(item, bool):
                yield child, str(key), item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _outer_leaves(item, f"{path}[{index}]")


@check(
    id="GR-SEC-002",
    title="Credential of a known format in a config file",
    severity=Severity.CRITICAL,
    category="secrets",
    why="""A GitHub, GitLab, AWS, Slack, Google or npm token, a JWT or a private key found in the
    file text (values, comments, wrapped ConfigMaps) is a working credential as written; once
    committed it must be treated as leaked and revoked.""",
    remediation="""
        # revoke the credential at its issuer, then reference its replacement
        integrations:
          github:
            - host: github.com
              token: ${GITHUB_TOKEN}
    """,
)
def known_token_formats(ctx: AuditContext) -> Iterator[Hit]:
    """Scans the text of every config file (including comments, wrapped ConfigMaps and included files) for
    GitHub, GitLab, AWS, Slack, Google, npm and Stripe credential formats, JWTs and private-key
    blocks; example values such as `ghp_XXXX...` are ignored."""
    for file in ctx.files():
        lines = ctx.file_lines(file)
        for number, line in enumerate(lines, 1):
            for kind, token, _offset in find_tokens(line):
                ctx.remember_secret(token)
                key = line.split(":", 1)[0].strip(" -\"'") if ":" in line else None
                yield Hit(
                    f"a {kind} is written in the file",
                    location=Location(file, number, key if key and " " not in key else None),
                    evidence=token_evidence(kind, token),
                )


_PORTAL_CREDENTIALS = (
    ("backend.auth.keys", "secret", 32, "backend signing key"),
    ("backend.auth.externalAccess", "options.token", 24, "static access token"),
    ("backend.auth.externalAccess", "options.secret", 32, "legacy shared secret"),
)


@check(
    id="GR-SEC-003",
    title="Short or guessable portal credential",
    severity=Severity.CRITICAL,
    severity_note="critical in production, high otherwise",
    category="secrets",
    why="""Backend signing keys, static access tokens and the session secret are what the portal
    trusts to authenticate callers; a short, dictionary or sequential value can be guessed or
    brute-forced offline, which forges service tokens or sessions.""",
    remediation="""
        # generate with: openssl rand -base64 48
        backend:
          auth:
            keys:
              - secret: ${BACKEND_AUTH_KEY}
        auth:
          session:
            secret: ${AUTH_SESSION_SECRET}
    """,
)
def weak_portal_credentials(ctx: AuditContext) -> Iterator[Hit]:
    """Checks literal `backend.auth.keys[].secret`, `backend.auth.externalAccess[].options.token`/`secret`
    and `auth.session.secret` for length (24-32+ characters), dictionary words, sequences, repeated
    characters and low character variety."""
    candidates: list[tuple[str, str, int]] = []
    for root, sub, minimum, label in _PORTAL_CREDENTIALS:
        for index, _entry in enumerate(ctx.items(root)):
            candidates.append((f"{root}[{index}].{sub}", label, minimum))
    candidates.append(("auth.session.secret", "session secret", 32))
    for path, label, minimum in candidates:
        value = ctx.get(path)
        if value is None or isinstance(value, bool) or (ctx.is_reference(path) and not ctx.from_default(path)):
            continue
        text = str(value)
        # A legacy secret is base64: `minimum` bytes take 4/3 as many characters.
        reason = weakness(text, min_length=minimum * 4 // 3 if path.endswith("options.secret") else minimum)
        if reason is None:
            continue
        ctx.remember_secret(text)
        yield Hit(
            f"the {label} at '{path}' is guessable: {reason}",
            key=path,
            evidence=f"{path.rsplit('.', 1)[-1]}: {redact(text)}",
            severity=by_deployment(ctx, Severity.CRITICAL, Severity.HIGH),
        )


@check(
    id="GR-SEC-004",
    title="High-entropy value that looks like a secret",
    severity=Severity.MEDIUM,
    category="secrets",
    why="""A long random-looking literal under a key whose name does not say "secret" (an HTTP
    header, an API key under a plugin's own name) is usually a credential; it escapes
    redaction by name and is shown wherever the config is.""",
    remediation="""
        proxy:
          endpoints:
            /newrelic/apm/api:
              target: https://api.newrelic.com/v2
              headers:
                X-Api-Key: ${NEW_RELIC_REST_API_KEY}
    """,
)
def high_entropy_values(ctx: AuditContext) -> Iterator[Hit]:
    """Reports long, random-looking literals (base64/alphanumeric with mixed case and digits, or 32+ hex
    characters) under keys whose names do not say secret; ids, URLs, paths, hashes and pins are
    skipped."""
    for path, key, value in ctx.leaves():
        if not isinstance(value, str) or is_secret_key(key) or ctx.is_reference(path):
            continue
        if high_entropy(key, value):
            ctx.remember_secret(value)
            yield Hit(
                f"'{path}' holds a random-looking literal that is probably a credential",
                key=path,
                evidence=f"{key}: {redact(value)}",
            )
