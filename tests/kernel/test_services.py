"""Typed service references, the registry (frozen after start-up) and a plugin's scoped view."""

from __future__ import annotations

import re

import pytest

from greenroom.kernel.services import ScopedServices, ServiceRef, ServiceRegistry, UndeclaredAccessError

GREETER: ServiceRef[str] = ServiceRef("hello.greeter", str, "greets")
OTHER: ServiceRef[str] = ServiceRef("other.service", str)


def test_refs_compare_by_id() -> None:
    assert ServiceRef("hello.greeter", int) == GREETER
    assert hash(ServiceRef("hello.greeter", int)) == hash(GREETER)
    assert GREETER != OTHER
    assert GREETER != "hello.greeter"
    assert repr(GREETER) == "ServiceRef('hello.greeter')"


def test_register_and_get() -> None:
    registry = ServiceRegistry()
    registry.register(GREETER, "hi", provider="hello")
    assert registry.get(GREETER) == "hi"
    assert registry.has(GREETER)
    assert not registry.has(OTHER)
    assert registry.provider_of(GREETER) == "hello"
    assert registry.provider_of(OTHER) is None


def test_unknown_service() -> None:
    with pytest.raises(UndeclaredAccessError, match=re.escape("no plugin provides service other.service")):
        ServiceRegistry().get(OTHER)


def test_a_service_has_one_provider() -> None:
    """Service hijacking: a second plugin cannot replace the implementation others use."""
    registry = ServiceRegistry()
    registry.register(GREETER, "hi", provider="hello")
    with pytest.raises(UndeclaredAccessError, match=re.escape("hello.greeter is provided by both hello and evil")):
        registry.register(GREETER, "evil", provider="evil")
    assert registry.get(GREETER) == "hi"


def test_registry_is_frozen_after_start_up() -> None:
    registry = ServiceRegistry()
    registry.register(GREETER, "hi", provider="hello")
    registry.freeze()
    with pytest.raises(
        UndeclaredAccessError, match=re.escape("service other.service registered after start-up by late")
    ):
        registry.register(OTHER, "x", provider="late")
    assert registry.get(GREETER) == "hi"


def test_scoped_view_only_reaches_declared_services() -> None:
    registry = ServiceRegistry()
    registry.register(GREETER, "hi", provider="hello")
    registry.register(OTHER, "secret-service", provider="other")
    scoped = ScopedServices(registry, (GREETER,), "consumer")
    assert scoped.get(GREETER) == "hi"
    with pytest.raises(
        UndeclaredAccessError, match=re.escape("plugin consumer uses service other.service without declaring")
    ):
        scoped.get(OTHER)


def test_undeclared_access_is_a_server_error_not_a_client_error() -> None:
    assert UndeclaredAccessError.status_code == 500
