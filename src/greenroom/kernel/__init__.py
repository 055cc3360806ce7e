"""The plugin contract: everything a plugin (built-in or third-party) builds on.

Import plugin-facing names from here only; the rest of the kernel is the core's business.
"""

from greenroom.kernel.context import PluginContext, ScopedConfig
from greenroom.kernel.core_services import PERMISSIONS, URL_READER
from greenroom.kernel.manifest import Plugin, PluginManifest, define_plugin
from greenroom.kernel.routing import Authorization, AuthzDep, PluginRouter, authorization
from greenroom.kernel.services import ServiceRef, UndeclaredAccessError
from greenroom.permissions.model import Decision, Permission, Result
from greenroom.permissions.principal import Principal

__all__ = [
    "PERMISSIONS",
    "URL_READER",
    "Authorization",
    "AuthzDep",
    "Decision",
    "Permission",
    "Plugin",
    "PluginContext",
    "PluginManifest",
    "PluginRouter",
    "Principal",
    "Result",
    "ScopedConfig",
    "ServiceRef",
    "UndeclaredAccessError",
    "authorization",
    "define_plugin",
]
