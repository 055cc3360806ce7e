"""The auth plugin: identity providers and Backstage's `/api/auth` routes, on the public plugin API.

It reads its own `auth.*` subtree (provider secrets only through the declared paths), the
catalog through `CATALOG` for sign-in resolvers, and tokens/sessions through the core's
`IDENTITY` service.
"""

from __future__ import annotations

from typing import Any

from greenroom import __version__
from greenroom.errors import ConfigError
from greenroom.identity.service import IDENTITY
from greenroom.kernel import AUDITOR, PluginContext, PluginManifest, define_plugin
from greenroom.plugins.auth import permissions
from greenroom.plugins.auth.directory import SIGN_IN, SignInDirectory
from greenroom.plugins.auth.providers import declared_secrets, load_providers
from greenroom.plugins.auth.resolvers import CatalogUsers
from greenroom.plugins.auth.routes import AuthState, register
from greenroom.plugins.catalog.plugin import CATALOG


def _setup(ctx: PluginContext) -> None:
    identity = ctx.services.get(IDENTITY)
    catalog = ctx.services.get(CATALOG)
    settings = identity.settings
    providers = load_providers(
        ctx.config.get_mapping("auth.providers"),
        environment=settings.environment,
        identity=identity,
        outbound=identity.outbound,
    )
    if ctx.production and not providers:
        raise ConfigError(
            f"production mode needs an identity provider enabled for auth.environment '{settings.environment}'; "
            "the configured providers are all for other environments",
            path="auth.providers",
        )
    users = CatalogUsers(catalog.queries, transitive=settings.include_transitive_groups)
    state = AuthState(identity=identity, providers=providers, users=users, local_mode=settings.local_mode,
                      audit=ctx.services.get(AUDITOR).for_plugin(ctx.plugin_id))
    register(ctx.router("/api/auth"), state)
    ctx.provide(SIGN_IN, SignInDirectory(providers, base_url=settings.base_url, local_mode=settings.local_mode))
    ctx.logger.info("auth providers", extra={"providers": sorted(providers), "environment": settings.environment,
                                             "localMode": settings.local_mode})


def _cli(app: Any) -> None:
    from greenroom.plugins.auth.cli import register as register_cli

    register_cli(app)


plugin = define_plugin(
    PluginManifest(
        id="auth",
        version=__version__,
        description="Sign-in through identity providers, sessions and user tokens (Backstage's auth backend)",
        mounts=("/api/auth",),
        permissions=permissions.ALL,
        secrets=declared_secrets(),
        services=(IDENTITY, CATALOG, AUDITOR),
        provides=(SIGN_IN,),
        cli=_cli,
    ),
    setup=_setup,
)
