"""Which groups a user is in, transitively, from the catalog's relations.

A user is in the groups its `memberOf` relations name (the catalog stores them in both
directions, so a Group's `spec.members` counts as well as a User's `spec.memberOf`), and in
every parent of those groups (`childOf`), level by level: one indexed query per level, with the
shortest path to each group kept for "explain". Groups need not exist as entities for the
hierarchy to count, as in RHDH; cycles in group parents end the walk instead of looping.

Results are cached per user and dropped when the catalog changes (its change marker, polled
at most every `check_interval` seconds, so a process sees another process's ingestion within
that time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

MAX_GROUPS = 5000
MAX_CACHED_USERS = 20_000


class CatalogRelations(Protocol):
    """What membership needs from the catalog (`CatalogService`)."""

    def relations_of(self, refs: Sequence[str], types: Sequence[str]) -> list[tuple[str, str, str]]: ...

    def change_marker(self) -> tuple[int, str]: ...


class GroupGraph:
    def __init__(
        self,
        catalog: CatalogRelations | None,
        *,
        max_depth: int | None = None,
        check_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._max_depth = max_depth
        self._interval = check_interval
        self._clock = clock
        self._cache: dict[str, dict[str, tuple[str, ...]]] = {}
        self._marker: tuple[int, str] | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.version = 0

    def check(self, *, force: bool = False) -> bool:
        """Drop cached memberships if the catalog changed; True when it did."""
        if self._catalog is None:
            return False
        now = self._clock()
        if not force and now - self._checked_at < self._interval:
            return False
        if not self._lock.acquire(blocking=force):
            return False  # another thread is checking; the current cache serves meanwhile
        try:
            self._checked_at = now
            marker = self._catalog.change_marker()
            if marker == self._marker:
                return False
            changed = self._marker is not None
            self._marker = marker
            self._cache = {}
            if changed:
                self.version += 1
            return changed
        finally:
            self._lock.release()

    def groups_of(self, user_ref: str) -> dict[str, tuple[str, ...]]:
        """Every group `user_ref` is in, each with the path that reaches it (user first)."""
        key = user_ref.lower()
        found = self._cache.get(key)
        if found is None:
            found = self._walk(key)
            if len(self._cache) >= MAX_CACHED_USERS:
                self._cache = {}
            self._cache[key] = found
        return found

    def _walk(self, user: str) -> dict[str, tuple[str, ...]]:
        if self._catalog is None:
            return {}
        direct = [group for _s, _t, group in self._catalog.relations_of([user], ("memberOf",))]
        return self._paths(user, direct, self._parents_from_catalog)

    def _parents_from_catalog(self, groups: list[str]) -> dict[str, list[str]]:
        assert self._catalog is not None
        parents: dict[str, list[str]] = {group: [] for group in groups}
        for source, _type, parent in self._catalog.relations_of(groups, ("childOf",)):
            parents.setdefault(source, []).append(parent)
        return parents

    def _paths(self, user: str, direct: Sequence[str],
               parents_of: Callable[[list[str]], dict[str, list[str]]]) -> dict[str, tuple[str, ...]]:
        """Breadth first from the user's direct groups, so each group keeps its shortest path."""
        paths: dict[str, tuple[str, ...]] = {}
        frontier: list[str] = []
        for group in direct:
            if group not in paths and group != user:
                paths[group] = (user, group)
                frontier.append(group)
        depth = 0
        while frontier and len(paths) < MAX_GROUPS:
            if self._max_depth is not None and depth >= self._max_depth:
                break
            depth += 1
            following: list[str] = []
            parents = parents_of(frontier)
            for group in frontier:
                for parent in parents.get(group, ()):
                    if parent in paths or parent == user:
                        continue  # seen already (a cycle, or a shorter path)
                    paths[parent] = (*paths[group], parent)
                    following.append(parent)
            frontier = following
        return paths

    def groups_of_many(self, users: Sequence[str]) -> dict[str, dict[str, tuple[str, ...]]]:
        """`groups_of` for many users at once (an access review): the relations are read in bulk."""
        keys = sorted({u.lower() for u in users})
        if self._catalog is None:
            return {key: {} for key in keys}
        direct: dict[str, list[str]] = {key: [] for key in keys}
        for source, _type, group in self._catalog.relations_of(keys, ("memberOf",)):
            direct.setdefault(source, []).append(group)
        parents: dict[str, list[str]] = {}
        frontier = sorted({g for groups in direct.values() for g in groups})
        while frontier and len(parents) < MAX_GROUPS * 10:
            found = self._parents_from_catalog(frontier)
            parents.update(found)
            frontier = sorted({p for ps in found.values() for p in ps if p not in parents})

        def known(groups: list[str]) -> dict[str, list[str]]:
            return {g: parents.get(g, []) for g in groups}

        return {key: self._paths(key, direct[key], known) for key in keys}
