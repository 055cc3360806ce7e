"""The plugins and packages a deployment is built from (needs `--packages`)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from datetime import timedelta

from greenroom.posture.checks.common import show
from greenroom.posture.context import AuditContext
from greenroom.posture.model import Location, Severity
from greenroom.posture.osv import match_advisories
from greenroom.posture.packages import Dependency
from greenroom.posture.registry import Hit, check

TRUSTED_SCOPES = frozenset(
    {"@backstage", "@backstage-community", "@red-hat-developer-hub", "@janus-idp", "@roadiehq", "@spotify"}
)
# Native modules whose install step only compiles or downloads their own binary.
KNOWN_NATIVE = frozenset(
    {
        "better-sqlite3", "isolated-vm", "esbuild", "cpu-features", "ssh2", "@swc/core", "protobufjs", "msw",
        "core-js", "es5-ext", "nx", "@parcel/watcher", "unrs-resolver", "sharp", "canvas", "node-gyp",
    }
)
STALE_AFTER = timedelta(days=730)
_BACKEND_PLUGIN = re.compile(
    r"(?:^|/)(?:backstage-)?plugin-[a-z0-9-]*backend|backend-module|backstage-plugin-.*backend"
)
_PINNED = re.compile(r"^=?v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_LOCAL_PROTOCOLS = ("link:", "workspace:", "file:", "portal:", "patch:")


def backend_plugins(ctx: AuditContext) -> list[Dependency]:
    inventory = ctx.inventory
    if inventory is None or inventory.kind != "npm":
        return []
    return [d for d in inventory.direct if not d.dev and _BACKEND_PLUGIN.search(d.name)]


def _where(dep: Dependency) -> Location:
    return Location(dep.manifest, dep.line, dep.name)


def _patterns(ctx: AuditContext, path: str) -> list[str]:
    return [str(p) for p in ctx.items(path) if isinstance(p, str)]


@check(
    id="GR-SUP-001",
    title="Backend plugin not on the allow-list",
    severity=Severity.MEDIUM,
    severity_note="medium per plugin outside `posture.allowedPlugins`; low when no allow-list is kept",
    category="supply-chain",
    flavors=("backstage",),
    needs="packages",
    why="""Every Backstage backend plugin runs in-process with the backend's full config, secrets and
    database access; a reviewed allow-list makes adding one a decision rather than a side effect
    of a dependency bump.""",
    remediation="""
        # app-config.yaml: the packages that were reviewed (globs allowed)
        posture:
          allowedPlugins:
            - "@backstage/plugin-*"
            - "@backstage-community/plugin-rbac-backend"
    """,
)
def plugins_not_allowed(ctx: AuditContext) -> Iterator[Hit]:
    """With `--packages` (npm): lists backend plugin dependencies (`plugin-*-backend*`, `*-backend-
    module-*`) not matched by a glob in `posture.allowedPlugins`; one low finding when no allow-list
    is kept."""
    plugins = backend_plugins(ctx)
    if not plugins:
        return
    allowed = _patterns(ctx, "posture.allowedPlugins")
    if not allowed:
        first = plugins[0]
        yield Hit(
            f"{len(plugins)} backend plugins are installed and no allow-list (posture.allowedPlugins) is kept",
            location=_where(first),
            evidence=", ".join(d.name for d in plugins[:5]) + (" ..." if len(plugins) > 5 else ""),
            severity=Severity.LOW,
        )
        return
    for dep in plugins:
        if not any(fnmatch.fnmatchcase(dep.name, pattern) for pattern in allowed):
            yield Hit(f"{dep.name} is not on posture.allowedPlugins", location=_where(dep),
                      evidence=f'"{dep.name}": "{dep.spec}"')


def _unpinned(spec: str) -> bool:
    text = spec.strip()
    if text.startswith(_LOCAL_PROTOCOLS):
        return False
    if text.startswith("npm:"):
        text = text.rsplit("@", 1)[-1]
    if re.match(r"^(?:git\+|git:|https?:|github:)", text) or ("/" in text and "@" not in text):
        return not re.search(r"#[0-9a-f]{40}$", text)
    return not _PINNED.match(text)


@check(
    id="GR-SUP-002",
    title="Dependencies with version ranges",
    severity=Severity.MEDIUM,
    severity_note="medium without a lockfile, low with one",
    category="supply-chain",
    flavors=("backstage",),
    needs="packages",
    why="""A range (`^1.2.0`, `*`, a branch) takes whatever version is newest when the image is
    built: a compromised release of any of those packages, or of their dependencies, ships
    without anyone choosing it. A lockfile narrows that to the moment someone updates it.""",
    remediation="""
        # packages/backend/package.json: exact versions, and commit the lockfile
        dependencies:
          "@backstage/plugin-catalog-backend": "3.0.1"
        # CI: yarn install --immutable
    """,
)
def ranged_versions(ctx: AuditContext) -> Iterator[Hit]:
    """With `--packages` (npm): runtime dependencies whose version is a range (`^`, `~`, `*`, `latest`,
    `>=`, a branch) rather than an exact version; `link:`/`workspace:`/`file:` are fine."""
    inventory = ctx.inventory
    if inventory is None or inventory.kind != "npm":
        return
    ranged = [d for d in inventory.direct if not d.dev and _unpinned(d.spec)]
    if not ranged:
        return
    locked = inventory.lockfile is not None
    shown = ", ".join(f"{d.name}@{d.spec}" for d in ranged[:4]) + (" ..." if len(ranged) > 4 else "")
    yield Hit(
        f"{len(ranged)} runtime dependencies use version ranges"
        + (f" (resolved by {inventory.lockfile.name})" if inventory.lockfile else " and there is no lockfile"),
        location=_where(ranged[0]),
        evidence=shown,
        severity=Severity.LOW if locked else Severity.MEDIUM,
    )


@check(
    id="GR-SUP-003",
    title="Backend plugin from an unknown publisher",
    severity=Severity.MEDIUM,
    category="supply-chain",
    flavors=("backstage",),
    needs="packages",
    why="""Plugins published outside the Backstage project, the community plugins, the large vendors
    and your own scope have had less review; an unscoped or unfamiliar package name is also how
    typosquatting gets in.""",
    remediation="""
        # review the package, then trust its scope explicitly
        posture:
          trustedScopes: ["@my-company"]
    """,
)
def unknown_scopes(ctx: AuditContext) -> Iterator[Hit]:
    """With `--packages` (npm): backend plugins outside `@backstage`, `@backstage-community`, `@red-hat-
    developer-hub`, `@janus-idp`, `@roadiehq`, `@spotify`, the project's own scope, `@internal` and
    `posture.trustedScopes`."""
    inventory = ctx.inventory
    if inventory is None:
        return
    trusted = TRUSTED_SCOPES | inventory.own_scopes | set(_patterns(ctx, "posture.trustedScopes"))
    for dep in backend_plugins(ctx):
        scope = dep.name.split("/", 1)[0] if dep.name.startswith("@") else None
        if scope in trusted:
            continue
        publisher = f"scope {scope}" if scope else "no scope"
        yield Hit(f"{dep.name} comes from {publisher}, which is not a trusted publisher", location=_where(dep),
                  evidence=f'"{dep.name}": "{dep.spec}"')


@check(
    id="GR-SUP-004",
    title="Known-vulnerable package version",
    severity=Severity.CRITICAL,
    severity_note="the advisory's own severity",
    category="supply-chain",
    needs="advisories",
    why="""An installed version that an OSV advisory lists as affected carries a published,
    often exploitable, vulnerability into the portal.""",
    remediation="""
        # upgrade to the fixed version the finding names, e.g.
        dependencies:
          "@backstage/plugin-scaffolder-backend": "2.2.1"
        # Yarn: pin a transitive fix with resolutions
        resolutions:
          "jsonpath-plus": "10.3.0"
    """,
)
def vulnerable_versions(ctx: AuditContext) -> Iterator[Hit]:
    """With `--packages` and `--advisories`: matches every installed version (from the lockfile, or the
    Python environment) against the OSV records' `versions` and SEMVER/ECOSYSTEM ranges, and names
    the first fixed version."""
    if ctx.inventory is None or ctx.advisories is None:
        return
    for found in match_advisories(ctx.advisories, ctx.inventory.installed):
        package = found.package
        aliases = f" ({', '.join(found.advisory.aliases[:2])})" if found.advisory.aliases else ""
        fix = f"; fixed in {found.fixed}" if found.fixed else "; no fixed version listed"
        yield Hit(
            f"{package.name}@{package.version} is affected by {found.advisory.id}{aliases}{fix}",
            location=Location(package.source, package.line, package.name),
            evidence=show(found.advisory.summary or found.advisory.id, 200),
            severity=found.advisory.severity,
        )


@check(
    id="GR-SUP-005",
    title="Package runs an install script",
    severity=Severity.MEDIUM,
    severity_note="medium, low for well-known native modules",
    category="supply-chain",
    flavors=("backstage",),
    needs="packages",
    why="""Install scripts run arbitrary code on the build machine (and its credentials) when the
    dependency is installed; most supply-chain attacks on npm start there.""",
    remediation="""
        # .yarnrc.yml: build only what needs it
        enableScripts: false
        # package.json
        dependenciesMeta:
          better-sqlite3:
            built: true
    """,
)
def install_scripts(ctx: AuditContext) -> Iterator[Hit]:
    """With `--packages` (npm): packages with `preinstall`/`install`/`postinstall` scripts or a `gypfile`,
    from `package-lock.json` (`hasInstallScript`), `node_modules` and the package itself."""
    inventory = ctx.inventory
    if inventory is None or inventory.kind != "npm":
        return
    for script in inventory.install_scripts:
        version = f"@{script.version}" if script.version else ""
        yield Hit(
            f"{script.name}{version} runs {', '.join(script.scripts)} when installed",
            location=Location(script.source, None, script.name),
            evidence=f"{script.name}: {', '.join(script.scripts)}",
            severity=Severity.LOW if script.name in KNOWN_NATIVE else Severity.MEDIUM,
        )


@check(
    id="GR-SUP-006",
    title="Backend plugin not published for a long time",
    severity=Severity.LOW,
    category="supply-chain",
    flavors=("backstage",),
    needs="package-metadata",
    why="""A plugin with no release in two years no longer follows Backstage's backend APIs or
    security fixes in its dependencies, and nobody may be watching its vulnerability reports.""",
    remediation="""
        # replace it with a maintained plugin, or vendor and maintain it yourself
        posture:
          allowedPlugins: ["@backstage/plugin-*", "@my-company/plugin-legacy-backend"]
    """,
)
def stale_plugins(ctx: AuditContext) -> Iterator[Hit]:
    """With `--packages` and `--package-metadata`: backend plugins whose latest publish date is more than
    two years before the audit."""
    dates = ctx.publish_dates
    if dates is None:
        return
    for dep in backend_plugins(ctx):
        published = dates.get(dep.name)
        if published is not None and ctx.today - published > STALE_AFTER:
            yield Hit(f"{dep.name} was last published on {published.isoformat()}", location=_where(dep),
                      evidence=f"last publish: {published.isoformat()}")
