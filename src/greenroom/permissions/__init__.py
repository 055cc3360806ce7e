"""Permission names, principals, decisions and the policy that makes them."""

from greenroom.permissions.model import ALLOW, DENY, Decision, Permission, Result
from greenroom.permissions.policy import FoundationPolicy, PermissionPolicy, PermissionService
from greenroom.permissions.principal import ANONYMOUS, SYSTEM, AccessRestriction, Principal

__all__ = [
    "ALLOW",
    "ANONYMOUS",
    "DENY",
    "SYSTEM",
    "AccessRestriction",
    "Decision",
    "FoundationPolicy",
    "Permission",
    "PermissionPolicy",
    "PermissionService",
    "Principal",
    "Result",
]
