"""The plugin contract: everything a plugin (built-in or third-party) builds on.

Import plugin-facing names from here only; the rest of the kernel is the core's business.
"""

from greenroom.kernel.context import PluginContext, ScopedConfig
from greenroom.kernel.core_services import (
    AUDITOR,
    AUTHENTICATION,
    ERROR_PAGES,
    PERMISSION_POLICY,
    PERMISSIONS,
    PLUGIN_READ,
    PLUGINS,
    URL_READER,
    ErrorPages,
    RequestAuthenticator,
)
from greenroom.kernel.directory import PluginDirectory
from greenroom.kernel.manifest import Plugin, PluginManifest, define_plugin
from greenroom.kernel.routing import Authorization, AuthzDep, PluginRouter, authorization
from greenroom.kernel.services import ServiceRef, UndeclaredAccessError
from greenroom.kernel.ui import EntityTab, Fragment, NavLink, PageView, TabView, UiContributions, UiPage
from greenroom.permissions.model import Decision, Permission, Result
from greenroom.permissions.principal import Principal
from greenroom.permissions.resources import PermissionRule, ResourceType

__all__ = [
    "AUDITOR",
    "AUTHENTICATION",
    "ERROR_PAGES",
    "PERMISSIONS",
    "PERMISSION_POLICY",
    "PLUGINS",
    "PLUGIN_READ",
    "URL_READER",
    "Authorization",
    "AuthzDep",
    "Decision",
    "EntityTab",
    "ErrorPages",
    "Fragment",
    "NavLink",
    "PageView",
    "Permission",
    "PermissionRule",
    "Plugin",
    "PluginContext",
    "PluginDirectory",
    "PluginManifest",
    "PluginRouter",
    "Principal",
    "RequestAuthenticator",
    "ResourceType",
    "Result",
    "ScopedConfig",
    "ServiceRef",
    "TabView",
    "UiContributions",
    "UiPage",
    "UndeclaredAccessError",
    "authorization",
    "define_plugin",
]
