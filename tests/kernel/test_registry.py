"""Start-up order by service dependencies, and claims no two plugins may share."""

from __future__ import annotations

import re

import pytest

from greenroom.errors import ConfigError
from greenroom.kernel import Permission, PluginManifest, ServiceRef, UndeclaredAccessError, define_plugin
from greenroom.kernel.manifest import Plugin
from greenroom.kernel.registry import Registry, check_claims, order_by_services
from greenroom.kernel.routing import RouteDeclaration, RouteTable
from greenroom.kernel.services import ServiceRegistry

A: ServiceRef[object] = ServiceRef("a.service", object)
B: ServiceRef[object] = ServiceRef("b.service", object)
CORE: ServiceRef[object] = ServiceRef("core.urlReader", object)


def plugin(plugin_id: str, *, uses: tuple[ServiceRef[object], ...] = (), provides: tuple[ServiceRef[object], ...] = (),
           mounts: tuple[str, ...] = (), permissions: tuple[Permission, ...] = ()) -> Plugin:
    manifest = PluginManifest(id=plugin_id, version="1", services=uses, provides=provides, mounts=mounts,
                              permissions=permissions)
    return define_plugin(manifest, setup=lambda ctx: None)


def ids(plugins: list[Plugin]) -> list[str]:
    return [p.id for p in plugins]


def test_providers_start_before_consumers() -> None:
    consumer = plugin("consumer", uses=(A, CORE))
    provider = plugin("provider", provides=(A,))
    assert ids(order_by_services([consumer, provider], {CORE.id})) == ["provider", "consumer"]
    assert ids(order_by_services([provider, consumer], {CORE.id})) == ["provider", "consumer"]


def test_chains_are_ordered() -> None:
    first = plugin("first", provides=(A,))
    second = plugin("second", uses=(A,), provides=(B,))
    third = plugin("third", uses=(B,))
    assert ids(order_by_services([third, second, first], set())) == ["first", "second", "third"]


def test_a_plugin_may_use_its_own_service() -> None:
    assert ids(order_by_services([plugin("self", uses=(A,), provides=(A,))], set())) == ["self"]


def test_independent_plugins_keep_their_order() -> None:
    assert ids(order_by_services([plugin("b"), plugin("a")], set())) == ["b", "a"]


def test_a_service_nothing_provides_is_a_start_up_error() -> None:
    with pytest.raises(ConfigError, match=re.escape("plugin consumer needs service a.service, which nothing provides")):
        order_by_services([plugin("consumer", uses=(A,))], set())


def test_a_dependency_cycle_is_a_start_up_error() -> None:
    one = plugin("one", uses=(B,), provides=(A,))
    two = plugin("two", uses=(A,), provides=(B,))
    bystander = plugin("bystander")
    with pytest.raises(ConfigError, match="plugins one, two depend on each other's services in a cycle"):
        order_by_services([one, two, bystander], set())


# -- claims -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [("/api/catalog", "/api/catalog"), ("/api/catalog", "/api/catalog/extra"), ("/api/tools", "/api/tools/catalog")],
)
def test_overlapping_mounts_of_two_plugins_are_refused(first: str, second: str) -> None:
    """Route hijacking: a plugin mounted inside another's URL space could answer its requests."""
    with pytest.raises(ConfigError, match="overlaps"):
        check_claims([plugin("catalog", mounts=(first,)), plugin("hello", mounts=(second,))])
    with pytest.raises(ConfigError, match="overlaps"):
        check_claims([plugin("hello", mounts=(second,)), plugin("catalog", mounts=(first,))])


def test_neighbouring_mounts_are_fine() -> None:
    check_claims([plugin("catalog", mounts=("/api/catalog",)), plugin("hello", mounts=("/api/catalog-ext",))])
    check_claims([plugin("one", mounts=("/api/one", "/api/one-more"))])


def test_a_permission_name_belongs_to_one_plugin() -> None:
    """Permission squatting: a policy granting catalog.entity.read must not open another plugin's routes."""
    read = Permission("catalog.entity.read", "read", "catalog-entity")
    with pytest.raises(
        ConfigError, match=re.escape("plugin hello declares permission catalog.entity.read, which belongs to catalog")
    ):
        check_claims([plugin("catalog", permissions=(read,)), plugin("hello", permissions=(read,))])


def test_core_permissions_cannot_be_claimed() -> None:
    metrics = Permission("core.metrics.read", "read")
    with pytest.raises(ConfigError, match="belongs to core"):
        check_claims([plugin("hello", permissions=(metrics,))], core_permissions=(metrics,))


def test_a_route_is_declared_once() -> None:
    table = RouteTable()
    table.add(RouteDeclaration("catalog", "GET", "/api/catalog/entities", "catalog.entity.read", public=False))
    table.add(RouteDeclaration("catalog", "POST", "/api/catalog/entities", "catalog.entity.read", public=False))
    with pytest.raises(
        UndeclaredAccessError, match="route GET /api/catalog/entities is declared by both catalog and hello"
    ):
        table.add(RouteDeclaration("hello", "GET", "/api/catalog/entities", None, public=True))


def test_registry_freeze_freezes_services() -> None:
    registry = Registry(services=ServiceRegistry())
    registry.freeze()
    assert registry.frozen
    with pytest.raises(UndeclaredAccessError, match="registered after start-up"):
        registry.services.register(A, object(), provider="late")
