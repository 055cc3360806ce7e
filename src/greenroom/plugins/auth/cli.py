"""`greenroom auth sessions ...`: list and revoke users' sessions from the command line.

    greenroom auth sessions list [--user user:default/alice] [--all] [--format json]
    greenroom auth sessions revoke --user user:default/alice
    greenroom auth sessions revoke --id <session id>
    greenroom auth sessions revoke --everyone          # incident response: end every session

Revocation takes effect at once in new processes and within `auth.session.revocationCheckInterval`
in running ones. Every revocation is an `auth-session-revoke` audit event with actor `cli`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from greenroom.cli_support import ConfigOption, fail, load, out
from greenroom.errors import GreenroomError, InputError

auth_app = typer.Typer(no_args_is_help=True, help="Sign-in sessions.")
sessions_app = typer.Typer(no_args_is_help=True, help="List and revoke sessions.")
auth_app.add_typer(sessions_app, name="sessions")


def register(app: typer.Typer) -> None:
    app.add_typer(auth_app, name="auth")


def _identity(config: list[Path] | None) -> Any:
    from greenroom.app import create_portal

    return create_portal(load(config)).identity


def _time(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@sessions_app.command("list")
def list_sessions(
    config: ConfigOption = None,
    user: Annotated[str | None, typer.Option(help="Only this user's sessions (user:default/alice).")] = None,
    include_ended: Annotated[bool, typer.Option("--all", help="Include revoked and expired sessions.")] = False,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Sessions, newest first."""
    try:
        identity = _identity(config)
        idle = identity.settings.session.idle_timeout
        sessions = [s.to_json(idle) for s in identity.sessions.list(user, include_ended=include_ended)]
    except GreenroomError as exc:
        raise fail(exc) from None
    if output == "json":
        out.print_json(json.dumps({"items": sessions}))
        return
    for s in sessions:
        out.print(f"{s['id']}  {s['userEntityRef']:32} {s['provider']:12} {s['state']:8} "
                  f"created {_time(s['createdAt'])}  last seen {_time(s['lastSeenAt'])}  {s['clientIp'] or ''}",
                  highlight=False)
    out.print(f"{len(sessions)} session(s)", highlight=False)


@sessions_app.command("revoke")
def revoke(
    config: ConfigOption = None,
    user: Annotated[str | None, typer.Option(help="Revoke every session of this user.")] = None,
    session_id: Annotated[str | None, typer.Option("--id", help="Revoke this one session.")] = None,
    everyone: Annotated[bool, typer.Option("--everyone", help="Revoke every session of every user.")] = False,
) -> None:
    """Revoke sessions (and with them every token issued for them)."""
    try:
        if sum(bool(x) for x in (user, session_id, everyone)) != 1:
            raise InputError("give exactly one of --user, --id or --everyone")
        identity = _identity(config)
        if everyone:
            count = identity.sessions.revoke_all("revoked by cli (everyone)")
            meta: dict[str, Any] = {"scope": "everyone", "sessions": count}
        elif user:
            ids = identity.sessions.revoke_user(user, "revoked by cli")
            count, meta = len(ids), {"userEntityRef": user, "sessions": ids}
        else:
            count = int(identity.sessions.revoke(str(session_id), "revoked by cli"))
            meta = {"sessionId": session_id}
        identity.auditor.emit("auth-session-revoke", "succeeded", actor_id="cli", severity="medium", meta=meta)
    except GreenroomError as exc:
        raise fail(exc) from None
    out.print(f"revoked {count} session(s)", highlight=False)
