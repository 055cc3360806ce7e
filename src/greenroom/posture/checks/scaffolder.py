"""Who can publish templates, and what the scaffolder may execute while running them."""

from __future__ import annotations

from collections.abc import Iterator

from greenroom.posture.checks.common import show
from greenroom.posture.context import AuditContext
from greenroom.posture.model import Location, Severity
from greenroom.posture.registry import Hit, check

# Actions that run third-party code or write outside the task workspace.
DANGEROUS_ACTIONS = {
    "fetch:cookiecutter": "runs cookiecutter hooks (arbitrary Python) from the template",
    "fetch:rails": "runs `rails new` with template-controlled arguments",
    "run:yeoman": "runs a Yeoman generator (arbitrary JavaScript) named by the template",
    "publish:file": "writes the result to a path on the backend host",
}
DANGEROUS_MODULES = {
    "@backstage/plugin-scaffolder-backend-module-cookiecutter": "fetch:cookiecutter",
    "@backstage/plugin-scaffolder-backend-module-rails": "fetch:rails",
    "@backstage/plugin-scaffolder-backend-module-yeoman": "run:yeoman",
    "@backstage-community/plugin-scaffolder-backend-module-cookiecutter": "fetch:cookiecutter",
    "@backstage-community/plugin-scaffolder-backend-module-rails": "fetch:rails",
    "@backstage-community/plugin-scaffolder-backend-module-yeoman": "run:yeoman",
}


def _allows_template(rule: object) -> bool:
    if not isinstance(rule, dict) or rule.get("locations"):
        return False
    allow = rule.get("allow")
    kinds = allow if isinstance(allow, list) else [allow]
    return any(isinstance(k, str) and k.strip().lower() == "template" for k in kinds)


def _untrusted_sources(ctx: AuditContext) -> list[str]:
    sources = []
    if ctx.mapping("catalog.providers"):
        sources.append("entity providers")
    for location in ctx.items("catalog.locations"):
        if isinstance(location, dict) and str(location.get("type", "")).strip() == "url":
            sources.append("url locations")
            break
    return sources


@check(
    id="GR-SCAF-001",
    title="Templates accepted from any catalog location",
    severity=Severity.MEDIUM,
    category="scaffolder",
    why="""A template decides which actions run with the scaffolder's integration tokens; when the
    global catalog rules allow the Template kind, anyone who can register a location or push a
    catalog file to a discovered repository can publish one.""",
    remediation="""
        catalog:
          rules:
            - allow: [Component, System, API, Resource, Location, Group, User]
          locations:
            - type: url
              target: https://github.com/example/templates/blob/main/all.yaml
              rules:
                - allow: [Template]
    """,
)
def templates_from_anywhere(ctx: AuditContext) -> Iterator[Hit]:
    """Reports a global `catalog.rules` entry that allows the Template kind without `locations`. For
    greenroom, only when url locations or entity providers feed the catalog (greenroom registers
    locations only for callers with `catalog.location.create`)."""
    for index, rule in enumerate(ctx.items("catalog.rules")):
        if not _allows_template(rule):
            continue
        untrusted = _untrusted_sources(ctx)
        if ctx.flavor == "greenroom" and not untrusted:
            return  # greenroom only registers locations for callers granted catalog.location.create
        where = ", ".join(untrusted) if untrusted else "any location a user registers"
        yield Hit(
            f"the global catalog rules accept Template entities from {where}",
            key=f"catalog.rules[{index}].allow",
            evidence=f"allow: {show(rule.get('allow') if isinstance(rule, dict) else rule)}",
        )
        return


@check(
    id="GR-SCAF-002",
    title="Scaffolder actions that execute code on the backend",
    severity=Severity.HIGH,
    category="scaffolder",
    why="""Some actions run code the template chooses (cookiecutter hooks, Yeoman generators,
    Rails generators) or write outside the task workspace; a template author then runs code
    with the backend's credentials.""",
    remediation="""
        # greenroom: keep such actions off the allow-list
        scaffolder:
          actions:
            allow: [fetch:template, fetch:plain, publish:github, catalog:register]
        # Backstage: remove the module from packages/backend/package.json and src/index.ts
    """,
)
def dangerous_actions(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `fetch:cookiecutter`, `fetch:rails`, `run:yeoman` and `publish:file` in greenroom's
    `scaffolder.actions.allow`, and (with `--packages`) the Backstage modules that add them."""
    for index, action in enumerate(ctx.items("scaffolder.actions.allow")):
        if isinstance(action, str) and action in DANGEROUS_ACTIONS:
            yield Hit(
                f"the scaffolder allows {action}, which {DANGEROUS_ACTIONS[action]}",
                key=f"scaffolder.actions.allow[{index}]",
                evidence=f"allow: {action}",
            )
    inventory = ctx.inventory
    if inventory is None:
        return
    for dep in inventory.direct:
        action = DANGEROUS_MODULES.get(dep.name)
        if action and not dep.dev:
            yield Hit(
                f"{dep.name} adds {action}, which {DANGEROUS_ACTIONS[action]}",
                location=Location(dep.manifest, dep.line, dep.name),
                evidence=f'"{dep.name}": "{dep.spec}"',
            )
