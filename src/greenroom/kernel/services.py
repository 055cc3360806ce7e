"""Typed service references: how plugins reach each other without importing each other.

A provider declares `provides=(CATALOG,)` and calls `ctx.provide(CATALOG, impl)`; a
consumer declares `services=(CATALOG,)` and calls `ctx.services.get(CATALOG)`. The
reference carries the Protocol type, so both sides agree on the interface and mypy checks it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from greenroom.errors import GreenroomError

T = TypeVar("T")


class UndeclaredAccessError(GreenroomError):
    """A plugin asked for something its manifest does not declare."""

    name = "NotAllowedError"
    status_code = 500


class ServiceRef(Generic[T]):
    __slots__ = ("description", "id", "interface")

    def __init__(self, id: str, interface: type[T] | Any, description: str = "") -> None:
        self.id = id
        self.interface = interface
        self.description = description

    def __repr__(self) -> str:
        return f"ServiceRef({self.id!r})"

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServiceRef) and other.id == self.id


class ServiceRegistry:
    """Every service any plugin or the core provides; frozen once start-up is done."""

    def __init__(self) -> None:
        self._impls: dict[str, Any] = {}
        self._providers: dict[str, str] = {}
        self._frozen = False

    def register(self, ref: ServiceRef[T], impl: T, *, provider: str) -> None:
        if self._frozen:
            raise UndeclaredAccessError(f"service {ref.id} registered after start-up by {provider}")
        if ref.id in self._impls:
            raise UndeclaredAccessError(
                f"service {ref.id} is provided by both {self._providers[ref.id]} and {provider}"
            )
        self._impls[ref.id] = impl
        self._providers[ref.id] = provider

    def get(self, ref: ServiceRef[T]) -> T:
        if ref.id not in self._impls:
            raise UndeclaredAccessError(f"no plugin provides service {ref.id}")
        return cast(T, self._impls[ref.id])

    def has(self, ref: ServiceRef[Any]) -> bool:
        return ref.id in self._impls

    def provider_of(self, ref: ServiceRef[Any]) -> str | None:
        return self._providers.get(ref.id)

    def freeze(self) -> None:
        self._frozen = True


class ScopedServices:
    """The view a plugin gets: only the services its manifest names.

    `services` must be provided (start-up fails otherwise); `optional_services` are used when
    some plugin provides them and read as None when none does.
    """

    def __init__(
        self,
        registry: ServiceRegistry,
        declared: tuple[ServiceRef[Any], ...],
        plugin_id: str,
        *,
        optional: tuple[ServiceRef[Any], ...] = (),
    ) -> None:
        self._registry = registry
        self._declared = {ref.id for ref in declared}
        self._optional = {ref.id for ref in optional}
        self._plugin_id = plugin_id

    def get(self, ref: ServiceRef[T]) -> T:
        if ref.id not in self._declared:
            raise UndeclaredAccessError(
                f"plugin {self._plugin_id} uses service {ref.id} without declaring it in its manifest"
                + (" (it is declared optional: use get_optional)" if ref.id in self._optional else "")
            )
        return self._registry.get(ref)

    def get_optional(self, ref: ServiceRef[T]) -> T | None:
        """A service declared in `optional_services` (or `services`), or None when nothing provides it."""
        if ref.id not in self._optional and ref.id not in self._declared:
            raise UndeclaredAccessError(
                f"plugin {self._plugin_id} uses service {ref.id} without declaring it in its manifest"
            )
        return self._registry.get(ref) if self._registry.has(ref) else None
