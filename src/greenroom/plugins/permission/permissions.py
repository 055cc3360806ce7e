"""The permission plugin's permissions, with RHDH's names (`policy.entity.*`)."""

from __future__ import annotations

from greenroom.kernel import Permission

RESOURCE_TYPE_POLICY_ENTITY = "policy-entity"

POLICY_READ = Permission("policy.entity.read", "read", RESOURCE_TYPE_POLICY_ENTITY,
                         "read roles, permission policies and conditions")
POLICY_CREATE = Permission("policy.entity.create", "create", None, "create roles, permission policies and conditions")
POLICY_UPDATE = Permission("policy.entity.update", "update", RESOURCE_TYPE_POLICY_ENTITY,
                           "change roles, permission policies and conditions")
POLICY_DELETE = Permission("policy.entity.delete", "delete", RESOURCE_TYPE_POLICY_ENTITY,
                           "delete roles, permission policies and conditions")
# Not RHDH's: Backstage's `/authorize` needs no permission, but every greenroom route names one.
# The RBAC policy grants it to every signed-in principal: it only answers about the caller.
AUTHORIZE = Permission("permission.authorize", "use", None, "ask which of one's own permissions are allowed",
                       mutates=False)

ALL = (POLICY_READ, POLICY_CREATE, POLICY_UPDATE, POLICY_DELETE, AUTHORIZE)
