"""`greenroom policy explain|test` and `greenroom access-review`.

Exit codes of `policy explain`: 0 ALLOW, 1 DENY, 3 CONDITIONAL (no --resource given: allowed only
for resources that meet the conditions; with --resource the conditions are applied and the
answer is ALLOW or DENY), 2 for a usage or configuration error.
`policy test`: 0 when every case matches, 1 on any mismatch, 2 for a bad file or config.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from greenroom.cli_support import ConfigOption, err, fail, load, out
from greenroom.errors import GreenroomError, InputError

policy_app = typer.Typer(no_args_is_help=True, help="Explain and test permission decisions (RBAC).")
EXIT = {"ALLOW": 0, "DENY": 1, "CONDITIONAL": 3}


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.command("access-review")(access_review)


def _rbac(config: list[Path] | None) -> Any:
    from greenroom.app import create_portal
    from greenroom.plugins.permission.plugin import RBAC

    portal = create_portal(load(config))
    if not portal.registry.services.has(RBAC):
        raise GreenroomError("the permission plugin is not loaded (plugins.disabled lists it)")
    return portal, portal.registry.services.get(RBAC)


def _format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"expected one of {', '.join(allowed)}")
    return value


@policy_app.command("explain")
def explain_command(
    user: Annotated[str, typer.Option("--user", help="The user, e.g. user:default/alice.")],
    permission: Annotated[str, typer.Option("--permission", help="A permission name, e.g. catalog.entity.delete.")],
    resource: Annotated[str | None, typer.Option("--resource", help="A resource ref (component:default/x).")] = None,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    config: ConfigOption = None,
) -> None:
    """May USER do PERMISSION (to RESOURCE), and why: roles, membership path, policy lines, conditions."""
    from greenroom.plugins.permission.explain import explain, resolve_permission

    _format(output, ("text", "json"))
    try:
        if not user.lower().startswith("user:"):
            raise InputError("--user must be a user entity ref (user:<namespace>/<name>)")
        _portal, rbac = _rbac(config)
        answer = explain(rbac, user_ref=user, permission=resolve_permission(rbac.permissions, permission),
                         resource_ref=resource)
    except GreenroomError as exc:
        raise fail(exc) from None
    if output == "json":
        out.print_json(json.dumps(answer))
    else:
        _print_explanation(answer)
    raise typer.Exit(EXIT[answer["result"]])


def _print_explanation(answer: dict[str, Any]) -> None:
    from rich.markup import escape

    colour = {"ALLOW": "green", "DENY": "red", "CONDITIONAL": "yellow"}[answer["result"]]
    target = f" on {answer['resource']['ref']}" if answer.get("resource") else ""
    out.print(f"[{colour}]{answer['result']}[/{colour}] {escape(answer['user'])} {answer['permission']['name']}"
              f"{escape(target)}", highlight=False)
    out.print(f"  because: {answer['reason']}", highlight=False, soft_wrap=True, markup=False)
    for role in answer["roles"]:
        for via in role["via"]:
            path = " -> ".join(via["path"])
            out.print(f"  role {role['role']} ({role['source']}) via {path} [{via['membership']['where']}]",
                      highlight=False, soft_wrap=True, markup=False)
    for kind in ("deny", "allow"):
        for grant in answer["grants"][kind]:
            out.print(f"  {kind}: {grant['role']}, {grant['permission']}, {grant['policy']} "
                      f"[{grant['origin']['where']}]", highlight=False, soft_wrap=True, markup=False)
    for conditional in answer["conditionalGrants"]:
        out.print(f"  conditional: {conditional['role']} [{conditional['origin']['where']}] "
                  f"{json.dumps(conditional['conditions'])}", highlight=False, soft_wrap=True, markup=False)
    resource = answer.get("resource") or {}
    for trace in resource.get("conditions", []):
        verdict = "matches" if trace["matched"] else "does not match"
        out.print(f"  {trace['role']}'s condition {verdict}: {_trace_text(trace['trace'])}", highlight=False,
                  soft_wrap=True)
    if resource.get("note"):
        out.print(f"  note: {resource['note']}", highlight=False, markup=False)


def _trace_text(trace: dict[str, Any]) -> str:
    mark = "yes" if trace["matched"] else "no"
    if "not" in trace:
        return f"not({_trace_text(trace['not'])})={mark}"
    for key in ("allOf", "anyOf"):
        if key in trace:
            return f"{key}({', '.join(_trace_text(t) for t in trace[key])})={mark}"
    return f"{trace['rule']}{json.dumps(trace['params'], separators=(',', ':'))}={mark}"


@policy_app.command("test")
def run_cases_command(
    file: Annotated[Path, typer.Argument(help="Cases: YAML or CSV (see docs/permissions.md).", exists=True,
                                         dir_okay=False)],
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    config: ConfigOption = None,
) -> None:
    """Check a table of expected decisions against the configured policy (exit 1 on any mismatch)."""
    from rich.markup import escape

    from greenroom.plugins.permission.policytest import load_cases, run_cases

    _format(output, ("text", "json"))
    try:
        cases = load_cases(file)
        _portal, rbac = _rbac(config)
        outcomes = run_cases(rbac, cases)
    except UnicodeDecodeError as exc:
        raise fail(InputError(f"{file}: not UTF-8 text ({exc.reason})")) from None
    except GreenroomError as exc:
        raise fail(exc) from None
    failed = [o for o in outcomes if not o.passed]
    if output == "json":
        out.print_json(json.dumps({
            "passed": len(outcomes) - len(failed), "failed": len(failed),
            "cases": [{"line": o.case.line, "user": o.case.user, "permission": o.case.permission,
                       "resource": o.case.resource, "expected": o.case.expect, "actual": o.actual,
                       "passed": o.passed, "reason": o.reason} for o in outcomes],
        }))
    else:
        for outcome in outcomes:
            case = outcome.case
            subject = f"{case.user} {case.permission}" + (f" on {case.resource}" if case.resource else "")
            if outcome.passed:
                out.print(f"[green]ok[/green]   {escape(subject)}: {outcome.actual}", highlight=False)
            else:
                out.print(f"[red]FAIL[/red] {escape(subject)} ({escape(str(file))}:{case.line})\n"
                          f"  - expected {case.expect}\n  + actual   {outcome.actual}\n"
                          f"    because {escape(outcome.reason)}", highlight=False, soft_wrap=True)
        summary = f"{len(outcomes) - len(failed)} passed, {len(failed)} failed"
        (err if failed else out).print(summary, highlight=False)
    if failed:
        raise typer.Exit(1)


def access_review(
    output: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    inactive_days: Annotated[int, typer.Option("--inactive-days", min=1,
                                               help="Report users not seen for this many days.")] = 90,
    config: ConfigOption = None,
) -> None:
    """Who can do what: per user and per role, super-users, roles without members, grants to users or
    groups missing from the catalog, users not seen for N days."""
    from greenroom.plugins.permission.review import CSV_COLUMNS, review_rows
    from greenroom.plugins.permission.review import access_review as build

    _format(output, ("table", "json", "csv"))
    try:
        portal, rbac = _rbac(config)
        report = build(rbac, last_seen=portal.identity.sessions.last_seen_by_user(), inactive_days=inactive_days)
    except GreenroomError as exc:
        raise fail(exc) from None
    if output == "json":
        out.print_json(json.dumps(report))
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(review_rows(report))
        typer.echo(buffer.getvalue(), nl=False)
    else:
        _print_review(report)


def _print_review(report: dict[str, Any]) -> None:
    from rich.table import Table

    findings = Table(title="Findings", show_lines=False)
    for column in ("finding", "subject", "detail"):
        findings.add_column(column)
    for entry in report["superUsers"]:
        findings.add_row("super-user", entry["ref"], entry["configKey"])
    for name in report["rolesWithoutMembers"]:
        findings.add_row("role without members", name, "")
    for entry in report["missingMembers"]:
        findings.add_row(f"{entry['kind']} not in the catalog", entry["member"], f"member of {entry['role']} "
                                                                                f"({entry['origin']})")
    for entry in report["inactiveUsers"]:
        findings.add_row(f"not seen for {report['inactiveDays']} days", entry["ref"],
                         f"last seen {entry['lastSeen'] or 'never'}")
    out.print(findings)
    roles = Table(title="Roles")
    for column in ("role", "source", "members", "grants"):
        roles.add_column(column)
    for role in report["roles"]:
        grants = [f"{g['effect']} {g['permission']} {g['action']}" for g in role["grants"]]
        grants += [f"conditional {c['resourceType']} {','.join(c['permissionMapping'])}" for c in role["conditions"]]
        roles.add_row(role["name"], role["source"], "\n".join(m["ref"] for m in role["members"]) or "-",
                      "\n".join(grants) or "-")
    out.print(roles)
    users = Table(title="Users")
    for column in ("user", "roles", "allowed", "conditional", "last seen"):
        users.add_column(column)
    for user in report["users"]:
        if not user["roles"] and not user["superUser"]:
            continue
        roles_text = "\n".join(dict.fromkeys(r["role"] for r in user["roles"])) or ("super-user" if user["superUser"]
                                                                                   else "-")
        users.add_row(user["ref"], roles_text, "\n".join(user["allow"]) or "-", "\n".join(user["conditional"]) or "-",
                      user["lastSeen"] or "never")
    out.print(users)
    without = sum(1 for u in report["users"] if not u["roles"] and not u["superUser"])
    out.print(f"{len(report['users'])} users, {without} without any role (they can do nothing); "
              f"{len(report['roles'])} roles", highlight=False)
