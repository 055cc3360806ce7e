"""Interim, until RBAC: `permission.rbac.admin.users` (RHDH's key) get full access, other users nothing."""

from __future__ import annotations

import pytest

from greenroom.errors import ConfigError
from greenroom.permissions.model import Permission
from greenroom.permissions.policy import FoundationPolicy, PermissionService, rbac_admins
from greenroom.permissions.principal import Principal

READ = Permission("catalog.entity.read", "read", "catalog-entity")


def _user(subject: str, *groups: str, restricted_to: str | None = None) -> Principal:
    from greenroom.permissions.principal import AccessRestriction

    return Principal(type="user", subject=subject, ownership_refs=(subject, *groups),
                     restrictions=(AccessRestriction(restricted_to),) if restricted_to else ())


def test_admins_by_user_and_by_group():
    service = PermissionService(FoundationPolicy(rbac_admins([{"name": "user:default/alice"},
                                                              {"name": "group:platform"}])))
    assert service.authorize(_user("user:default/alice"), READ, plugin_id="catalog").allowed
    assert service.authorize(_user("user:default/bob", "group:default/platform"), READ, plugin_id="catalog").allowed
    assert service.authorize(_user("user:default/carol", "group:default/other"), READ, plugin_id="catalog").denied
    # entity refs compare case-insensitively
    assert service.authorize(_user("user:default/ALICE"), READ, plugin_id="catalog").allowed


def test_an_admin_on_behalf_of_token_is_still_capped_to_its_plugin():
    service = PermissionService(FoundationPolicy(["user:default/alice"]))
    capped = _user("user:default/alice", restricted_to="scaffolder")
    assert service.authorize(capped, READ, plugin_id="catalog").denied


def test_users_get_nothing_without_the_list():
    assert PermissionService(FoundationPolicy()).authorize(_user("user:default/alice"), READ,
                                                           plugin_id="catalog").denied


@pytest.mark.parametrize("value", [{"name": "x"}, [{"name": "component:default/x"}], [{"user": "user:default/a"}],
                                   ["user:default/a"]])
def test_malformed_admin_lists_are_refused(value):
    with pytest.raises(ConfigError, match=r"permission\.rbac\.admin\.users"):
        rbac_admins(value)
