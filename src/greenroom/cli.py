"""The `greenroom` command."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import sys
from typing import Annotated, Any

import typer

from greenroom import __version__
from greenroom.audit.cli import register as register_audit_log
from greenroom.cli_support import ConfigOption, fail, load, out
from greenroom.config import Config
from greenroom.config.defaults import DEFAULT_HOST, DEFAULT_PORT
from greenroom.errors import GreenroomError
from greenroom.observability.logging import configure_logging
from greenroom.posture.cli import register as register_audit

app = typer.Typer(no_args_is_help=True, add_completion=False, help="greenroom: a hardened developer portal.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
plugins_app = typer.Typer(no_args_is_help=True, help="Installed plugins.")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(plugins_app, name="plugins")



def _listen(config: Config) -> tuple[str, int]:
    listen = config.get("backend.listen")
    host, port = DEFAULT_HOST, DEFAULT_PORT
    if isinstance(listen, dict):
        host = str(listen.get("host") or host)
        port = int(listen.get("port") or port)
    elif isinstance(listen, str):
        raw_host, _, raw_port = listen.rpartition(":")
        host = raw_host or "0.0.0.0"  # noqa: S104 - Backstage's ':7007' form means all interfaces
        port = int(raw_port or port)
    return host, port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_local_bind(local_mode: bool, host: str) -> None:
    if local_mode and not _is_loopback(host):
        raise GreenroomError(
            f"local mode (no identity provider configured) only binds to loopback; {host} is not "
            "(configure an identity provider under auth.providers to serve on other interfaces)"
        )


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Override backend.listen.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Override backend.listen.port.")] = None,
    production: Annotated[bool, typer.Option("--production", help="Run with production checks.")] = False,
    log_format: Annotated[str, typer.Option(help="json or text")] = "json",
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Run the portal (zero-config without --config: example catalog on 127.0.0.1:7007)."""
    import uvicorn

    from greenroom.app import create_portal
    from greenroom.identity.config import configured_providers
    from greenroom.identity.service import LOCAL_LOGIN_TTL

    try:
        cfg = load(config)
        overrides: dict[str, Any] = {}
        listen_host, listen_port = _listen(cfg)
        if host is not None:
            listen_host = host
        if port is not None:
            listen_port = port
        if host is not None or port is not None:
            overrides["backend.listen"] = {"host": listen_host, "port": listen_port}
            if not config:
                overrides["backend.baseUrl"] = f"http://{listen_host}:{listen_port}"
        if overrides:
            cfg = cfg.with_values(overrides)
        configure_logging(level=log_level, json_format=log_format == "json", redact=cfg.redact_text)
        production = production or cfg.get_bool("app.production")
        # Local mode: nobody can sign in through an identity provider, so the local admin gets a
        # one-time login link instead (never a guest user), and the server stays on loopback.
        local_mode = not production and not configured_providers(cfg)
        _check_local_bind(local_mode, listen_host)
        portal = create_portal(cfg, production=production, local_mode=local_mode)
        login_url = portal.identity.issue_local_login() if local_mode else None
    except GreenroomError as exc:
        raise fail(exc) from None
    log = logging.getLogger("greenroom.cli")
    log.info(
        "listening",
        extra={"url": f"http://{listen_host}:{listen_port}", "database": portal.database.describe(),
               "local_mode": local_mode},
    )
    if login_url is not None:
        # Plain text (rich, imported for this alone, would add 20 ms to every local start).
        sys.stderr.write(
            f"greenroom is running in local mode at http://{listen_host}:{listen_port} (loopback only"
            + ("; the example catalog is loaded" if not config else "")
            + ").\nSign in as the local admin with this one-time link (single use, valid for "
            f"{int(LOCAL_LOGIN_TTL // 60)} minutes):\n\n    {login_url}\n\n"
        )
        sys.stderr.flush()
    # No WebSocket routes: ws="none" also spares importing a WebSocket implementation.
    server_config = uvicorn.Config(portal.app, host=listen_host, port=listen_port, log_config=None, access_log=False,
                                   proxy_headers=False, server_header=False, ws="none")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C after a clean shutdown (as uvicorn.run)
        _listening_server(portal, server_config).run()


def _listening_server(portal: Any, config: Any) -> Any:
    """uvicorn's server, telling the portal once it listens (its first ingestion starts then)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                try:
                    portal.serving()
                except Exception:  # shut down cleanly (stop hooks, database) rather than half-started
                    logging.getLogger("greenroom.cli").exception("a plugin's serving hook failed; stopping")
                    self.should_exit = True

    portal.defer_serving = True
    return Server(config)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create or migrate the database schema of the core and every enabled plugin."""
    from greenroom.audit import MIGRATIONS as AUDIT_MIGRATIONS
    from greenroom.db.engine import Database
    from greenroom.db.migrate import upgrade
    from greenroom.identity import MIGRATIONS as IDENTITY_MIGRATIONS
    from greenroom.kernel.loader import load as load_plugin
    from greenroom.kernel.registry import plugin_candidates, schema_locations

    try:
        cfg = load(config)
        database = Database.from_config(cfg)
        candidates, _refused = plugin_candidates(cfg)
        plugins = [load_plugin(c) for c in candidates]
        upgrade(database, [IDENTITY_MIGRATIONS, AUDIT_MIGRATIONS, *schema_locations(plugins)])
    except GreenroomError as exc:
        raise fail(exc) from None
    out.print(f"database at {database.describe()} is up to date")


@config_app.command("print")
def config_print(
    config: ConfigOption = None,
    resolve_secrets: Annotated[bool, typer.Option(help="Resolve secret-store references.")] = False,
) -> None:
    """Print the merged configuration with every secret redacted."""
    try:
        cfg = load(config, resolve_secrets=resolve_secrets)
    except GreenroomError as exc:
        raise fail(exc) from None
    out.print_json(json.dumps(cfg.redacted()))


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Load and validate the configuration (exit 0 when it is usable): the core keys, `audit`, and
    the identity settings; plugins validate their own sections when `serve` starts them."""
    from greenroom.audit.settings import load_audit_settings
    from greenroom.config.schema import validate_core
    from greenroom.identity.config import load_settings

    try:
        cfg = load(config, resolve_secrets=False)
        core = validate_core(cfg)
        load_audit_settings(cfg, production=core.app.production)
        load_settings(cfg, production=core.app.production, local_mode=False)
    except GreenroomError as exc:
        raise fail(exc, 1) from None
    out.print("configuration is valid")


@plugins_app.command("list")
def plugins_list(config: ConfigOption = None) -> None:
    """Installed plugins, whether they load, and the sha256 pin to allow-list them with."""
    from greenroom.kernel.loader import record_sha256
    from greenroom.kernel.registry import plugin_candidates

    try:
        cfg = load(config, resolve_secrets=False)
        chosen, refused = plugin_candidates(cfg)
    except GreenroomError as exc:
        raise fail(exc) from None
    for c in chosen:
        pin = record_sha256(c.distribution) if c.distribution else None
        out.print(f"[green]load[/green]    {c.id:20} {c.distribution_name:24} sha256={pin}", highlight=False)
    for r in refused:
        out.print(f"[yellow]refused[/yellow] {r.id:20} {r.distribution:24} {r.reason}", highlight=False)


def _register_plugin_commands() -> None:
    """Built-in plugins add their commands; third-party code is not imported before config is read."""
    from greenroom.kernel.loader import discover
    from greenroom.kernel.loader import load as load_plugin

    for candidate in discover():
        if candidate.builtin:
            plugin = load_plugin(candidate)
            if plugin.manifest.cli is not None:
                plugin.manifest.cli(app)


_register_plugin_commands()
register_audit(app)
register_audit_log(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
