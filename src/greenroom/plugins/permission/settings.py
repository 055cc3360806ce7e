"""The RBAC plugin's configuration: Red Hat Developer Hub's keys under `permission`.

    permission:
      enabled: true                                  # greenroom is deny-by-default either way
      rbac:
        policies-csv-file: /opt/rbac/rbac-policy.csv
        conditionalPoliciesFile: /opt/rbac/conditional-policies.yaml
        policyFileReload: true                       # greenroom's default; RHDH's is false
        pluginsWithPermission: [catalog, scaffolder] # what /plugins/policies lists (default: every plugin)
        policyDecisionPrecedence: conditional        # or basic
        maxDepth: 3                                  # group parents followed (default: all)
        admin:
          users: [{name: group:default/platform-admins}]
          superUsers: [{name: user:default/break-glass}]
        validation:
          conditionalPolicies: {maxConditionDepth: 12, maxConditionNodeCount: 256, maxCriteriaItems: 64}
          conditionalPoliciesFile: {maxBytes: 1048576, maxDocuments: 256}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenroom.errors import ConfigError
from greenroom.permissions.criteria import CriteriaLimits
from greenroom.plugins.permission.files import DEFAULT_CONDITIONAL_MAX_BYTES, DEFAULT_CONDITIONAL_MAX_DOCUMENTS
from greenroom.plugins.permission.refs import MEMBER_KINDS, ref_problem


@dataclass(frozen=True)
class RbacSettings:
    csv_file: Path | None = None
    conditional_file: Path | None = None
    reload: bool = True
    plugins_with_permission: tuple[str, ...] | None = None
    precedence: str = "conditional"
    max_depth: int | None = None
    admins: tuple[tuple[str, str], ...] = ()  # (ref, config key)
    super_users: tuple[tuple[str, str], ...] = ()
    limits: CriteriaLimits = field(default_factory=CriteriaLimits)
    conditional_max_bytes: int = DEFAULT_CONDITIONAL_MAX_BYTES
    conditional_max_documents: int = DEFAULT_CONDITIONAL_MAX_DOCUMENTS


def _positive(value: Any, path: str, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError("must be a positive integer", path=path)
    return value


def _entries(value: Any, path: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError("expected a list of {name: <user or group ref>}", path=path)
    out = []
    for index, entry in enumerate(value):
        key = f"{path}[{index}].name"
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and ":" in name and "/" not in name.partition(":")[2]:
            name = f"{name.partition(':')[0]}:default/{name.partition(':')[2]}"
        problem = ref_problem(name.lower() if isinstance(name, str) else name, kinds=MEMBER_KINDS)
        if problem:
            raise ConfigError(f"each entry is {{name: user:<namespace>/<name>}} or {{name: group:<namespace>/<name>}}: "
                              f"{problem}", path=key)
        assert isinstance(name, str)
        out.append((name.lower(), key))
    return tuple(out)


def _path(value: Any, key: str) -> Path | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError("expected a file path", path=key)
    return Path(value).expanduser()


def load_settings(rbac: Any) -> RbacSettings:
    """`permission.rbac` as settings; ConfigError naming the key for anything unusable."""
    if rbac is None:
        rbac = {}
    if not isinstance(rbac, dict):
        raise ConfigError("expected an object", path="permission.rbac")
    admin = rbac.get("admin") or {}
    if not isinstance(admin, dict):
        raise ConfigError("expected an object with users and superUsers", path="permission.rbac.admin")
    plugins = rbac.get("pluginsWithPermission")
    if plugins is not None and (not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins)):
        raise ConfigError("expected a list of plugin ids", path="permission.rbac.pluginsWithPermission")
    precedence = rbac.get("policyDecisionPrecedence", "conditional")
    if precedence not in ("conditional", "basic"):
        raise ConfigError("must be conditional or basic", path="permission.rbac.policyDecisionPrecedence")
    max_depth = rbac.get("maxDepth")
    if max_depth is not None and (not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 0):
        raise ConfigError("must be an integer of at least 0", path="permission.rbac.maxDepth")
    reload = rbac.get("policyFileReload", True)
    if not isinstance(reload, bool):
        raise ConfigError("must be true or false", path="permission.rbac.policyFileReload")
    validation = rbac.get("validation") or {}
    conditional = validation.get("conditionalPolicies") or {} if isinstance(validation, dict) else {}
    file_limits = validation.get("conditionalPoliciesFile") or {} if isinstance(validation, dict) else {}
    base = "permission.rbac.validation"
    limits = CriteriaLimits(
        max_depth=_positive(conditional.get("maxConditionDepth"), f"{base}.conditionalPolicies.maxConditionDepth", 12),
        max_nodes=_positive(conditional.get("maxConditionNodeCount"),
                            f"{base}.conditionalPolicies.maxConditionNodeCount", 256),
        max_items=_positive(conditional.get("maxCriteriaItems"), f"{base}.conditionalPolicies.maxCriteriaItems", 64),
    )
    return RbacSettings(
        csv_file=_path(rbac.get("policies-csv-file"), "permission.rbac.policies-csv-file"),
        conditional_file=_path(rbac.get("conditionalPoliciesFile"), "permission.rbac.conditionalPoliciesFile"),
        reload=reload,
        plugins_with_permission=tuple(plugins) if plugins is not None else None,
        precedence=precedence,
        max_depth=max_depth,
        admins=_entries(admin.get("users"), "permission.rbac.admin.users"),
        super_users=_entries(admin.get("superUsers"), "permission.rbac.admin.superUsers"),
        limits=limits,
        conditional_max_bytes=_positive(file_limits.get("maxBytes"), f"{base}.conditionalPoliciesFile.maxBytes",
                                        DEFAULT_CONDITIONAL_MAX_BYTES),
        conditional_max_documents=_positive(file_limits.get("maxDocuments"),
                                            f"{base}.conditionalPoliciesFile.maxDocuments",
                                            DEFAULT_CONDITIONAL_MAX_DOCUMENTS),
    )
