"""The recording interface: same-transaction events, failures, actors, and the chain it builds."""

from __future__ import annotations

import enum
import itertools
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

from greenroom.audit import SYSTEM_ACTOR, Actor, AuditEvent, AuditQuery, RequestInfo, StoredEvent
from greenroom.audit.model import GENESIS_HASH, MAX_TEXT, _jsonable, canonical_bytes, meta_text
from greenroom.audit.store import random_uuid
from greenroom.audit.verify import verify_chain
from greenroom.errors import ConflictError


def _events(portal, **filters):
    return list(portal.auditor.iterate(AuditQuery(**filters)))


def test_an_operation_commits_its_event_with_the_change(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("permission")
    with portal.database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE roles_demo (name VARCHAR(50) PRIMARY KEY)"))
    with audit.operation("role-mutate", action="create", target="role:default/admins", severity="high",
                         meta={"source": "rest"}) as op, portal.database.engine.begin() as connection:
        connection.execute(text("INSERT INTO roles_demo VALUES ('admins')"))
        op.record(connection, meta={"members": 2})
    [event] = _events(portal, event_id="role-mutate")
    assert (event.plugin, event.action, event.target, event.status, event.severity) == (
        "permission", "create", "role:default/admins", "succeeded", "high")
    assert event.to_json()["meta"] == {"source": "rest", "members": 2}
    assert event.actor_id == SYSTEM_ACTOR.actor_id


def test_a_change_that_rolls_back_leaves_only_its_failure(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("permission")
    with portal.database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE roles_demo (name VARCHAR(50) PRIMARY KEY)"))
    with pytest.raises(ConflictError), audit.operation(  # noqa: PT012 - the block is the operation
        "role-mutate", action="create", target="role:default/x", actor=Actor("user:default/alice", "user"),
    ) as op, portal.database.engine.begin() as connection:
        connection.execute(text("INSERT INTO roles_demo VALUES ('x')"))
        op.record(connection)
        raise ConflictError("role exists")
    events = _events(portal, event_id="role-mutate")
    assert [(e.status, e.error, e.actor_id) for e in events] == [
        ("failed", "ConflictError: role exists", "user:default/alice")]
    with portal.database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM roles_demo")).scalar() == 0
    assert verify_chain(portal.database).ok


def test_an_operation_without_a_transaction_records_on_its_own(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("demo")
    with audit.operation("thing-mutate", action="delete", target="thing:1"):
        pass
    [event] = _events(portal, event_id="thing-mutate")
    assert event.status == "succeeded"


def test_events_chain_by_hash_from_genesis(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("demo")
    for i in range(5):
        audit.log("thing-mutate", action="update", target=f"thing:{i}")
    events = _events(portal, event_id="thing-mutate", order="asc")
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    first = next(portal.auditor.iterate(AuditQuery(order="asc")))
    assert first.seq == 1
    assert first.prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash or after.seq != before.seq + 1
    assert all(e.computed_hash() == e.hash for e in events)
    assert verify_chain(portal.database).ok


def test_amending_an_operation_changes_only_the_event_it_records(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("demo")
    with audit.operation("thing-mutate", action="delete", target="thing:asked", meta={"a": 1}) as op, \
            portal.database.engine.begin() as connection:
        op.amend(target="thing:found", meta={"b": 2})
        op.amend(meta={"a": 3})
        op.record(connection, meta={"c": 4})
    [event] = _events(portal, event_id="thing-mutate")
    assert event.target == "thing:found"
    assert event.to_json()["meta"] == {"a": 3, "b": 2, "c": 4}
    assert (op.event.target, dict(op.event.meta)) == ("thing:asked", {"a": 1})  # the event as begun


def test_over_long_texts_are_cut_to_their_columns_and_hashed_as_stored(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("demo")
    actor = Actor(actor_id="user:default/" + "a" * 700, type="user", ip="1" * 80, hostname="h" * 300,
                  user_agent="u" * 400)
    audit.log("thing-mutate", actor=actor, action="x" * 70, target="t" * 1200, error="e" * 5000)
    audit.log("thing-mutate", actor=actor, target="short")
    long, short = _events(portal, event_id="thing-mutate", order="asc")
    assert (len(long.actor_id), len(long.ip), len(long.hostname), len(long.user_agent), len(long.action),
            len(long.target), len(long.error)) == (MAX_TEXT["actor_id"], MAX_TEXT["ip"], MAX_TEXT["hostname"],
                                                   MAX_TEXT["user_agent"], MAX_TEXT["action"], MAX_TEXT["target"],
                                                   MAX_TEXT["error"])
    assert long.target == "t" * MAX_TEXT["target"]
    assert short.target == "short"
    assert long.computed_hash() == long.hash
    assert short.computed_hash() == short.hash
    assert verify_chain(portal.database).ok


def test_the_stored_form_and_hash_of_an_event_are_stable():
    """Chains written by earlier versions must verify: the same event gives the same row and hash
    (the expected hash was computed by the version before the row was built in one pass)."""
    event = AuditEvent(
        event_id="e" * 120, status="failed", severity="high", plugin="p" * 70,
        actor=Actor(actor_id="user:default/alice", type="user", ip="203.0.113.7", hostname="portal.example",
                    user_agent="Mozilla/5.0 \u00fcn\u00ef"),
        action="delete", target="component:default/payments",
        request=RequestInfo(url="/api/catalog/x?" + "q" * 2100, method="DELETE" * 4, request_id="r" * 200),
        meta={"b": [1, 2.5, None], "a": {"z": "\u00fc", "y": True}}, error="boom")
    stored = StoredEvent.build(event, seq=7, id="3f2b9a3c-0f4e-4c1d-9a7e-1b2c3d4e5f60", time_us=1764400000123456,
                               prev_hash="ab" * 32)
    assert stored.hash == "ded48f6e14b905bbfad0a7c3c6b9c1949ea26894aed46803c0e078ac72352fca"
    assert (len(stored.event_id), len(stored.plugin), len(stored.request_url), len(stored.request_method),
            len(stored.request_id)) == (MAX_TEXT["event_id"], MAX_TEXT["plugin"], MAX_TEXT["url"],
                                        MAX_TEXT["method"], MAX_TEXT["request_id"])
    assert stored.meta == '{"a":{"y":true,"z":"\u00fc"},"b":[1,2.5,null]}'
    assert stored.computed_hash() == stored.hash


def test_a_failed_operation_records_the_amended_event(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("demo")

    def change() -> None:
        with audit.operation("thing-mutate", action="delete", target="thing:asked") as op:
            op.amend(target="thing:found", meta={"found": True})
            op.amend(target=None, meta=None)  # nothing to change: the amended target stays
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        change()
    [event] = _events(portal, event_id="thing-mutate")
    assert (event.status, event.target, event.error) == ("failed", "thing:found", "RuntimeError: disk full")
    assert event.to_json()["meta"] == {"found": True}


def test_event_ids_are_random_version_4_uuids():
    seen = set()
    for _ in range(5000):
        text_form = random_uuid()
        parsed = uuid.UUID(text_form)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text_form)
        seen.add(text_form)
    assert len(seen) == 5000


def test_the_event_id_index_is_left_to_postgresql(make_portal):
    """SQLite writes a page per index with every change; eventId filters still answer in full."""
    portal = make_portal()
    audit = portal.auditor.for_plugin("demo")
    for i in range(30):
        audit.log("rare-thing" if i % 10 == 3 else "common-thing", target=f"thing:{i}")
    names = {ix["name"] for ix in inspect(portal.database.engine).get_indexes("audit_events")}
    assert ("ix_audit_events_event_id" in names) == (not portal.database.is_sqlite)
    assert {"ix_audit_events_time_us", "ix_audit_events_actor_id", "ix_audit_events_target"} <= names
    rare = portal.auditor.query(AuditQuery(event_id="rare-thing"), limit=2)
    assert [e.target for e in rare.items] == ["thing:23", "thing:13"]
    assert rare.next_cursor is not None
    rest = portal.auditor.query(AuditQuery(), cursor=rare.next_cursor)
    assert [e.target for e in rest.items] == ["thing:3"]


def test_disabled_auditing_records_nothing(make_portal):
    portal = make_portal({"audit": {"enabled": False}})
    portal.auditor.for_plugin("demo").log("thing-mutate")
    assert _events(portal) == []


def test_bad_events_are_refused_before_they_reach_the_store():
    with pytest.raises(ValueError, match="status"):
        AuditEvent(event_id="x", status="done")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="severity"):
        AuditEvent(event_id="x", severity="urgent")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eventId"):
        AuditEvent(event_id="")


def test_meta_is_canonical_json_and_capped(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("demo")
    audit.log("big", meta={"blob": "x" * 100_000})
    audit.log("odd", meta={"when": object.__name__, "n": float("nan")})
    big = _events(portal, event_id="big")[0].to_json()["meta"]
    assert big["truncated"] is True
    assert _events(portal, event_id="odd")[0].to_json()["meta"] == {"when": "object", "n": "nan"}


class _Color(enum.Enum):
    RED = 1


class _Status(enum.StrEnum):
    OK = "ok"


@pytest.mark.parametrize("meta, stored", [
    ({"b": 1, "a": {"y": [1, 2.5, "x"], "x": True}}, '{"a":{"x":true,"y":[1,2.5,"x"]},"b":1}'),
    ({"none": None, "nan": float("nan"), "inf": float("inf")}, '{"inf":"inf","nan":"nan","none":null}'),
    ({"tags": {"b", "a"}, 2: "two"}, '{"2":"two","tags":["a","b"]}'),
    ({"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}, '{"when":"2026-01-02 03:04:05+00:00"}'),
    ({"actor": SYSTEM_ACTOR}, '{"actor":"' + str(SYSTEM_ACTOR).replace('"', '\\"') + '"}'),
    ({"color": _Color.RED, "status": _Status.OK, "big": 2**70}, '{"big":1180591620717411303424,"color":1,"status":"ok"}'),
    ({"t": (1, 2)}, '{"t":[1,2]}'),
])
def test_meta_text_plain_json_fast_and_everything_else_the_long_way(meta, stored):
    """The stored meta is one canonical form, whichever path produced it."""
    assert meta_text(meta) == stored
    assert meta_text(meta) == canonical_bytes(_jsonable(meta)).decode()


class _Redacting(dict):  # type: ignore[type-arg]
    def items(self):  # type: ignore[no-untyped-def, override]
        return [(k, "[REDACTED]") for k in self]


def test_meta_text_respects_what_a_subclass_says_about_itself():
    """orjson reads a dict subclass's storage directly; such values take the long way."""
    assert meta_text({"credentials": _Redacting(password="hunter2")}) == '{"credentials":{"password":"[REDACTED]"}}'


def test_meta_text_cuts_what_is_nested_too_deep():
    deep: dict[str, object] = {}
    node = deep
    for _ in range(300):
        node["n"] = {}
        node = node["n"]  # type: ignore[assignment]
    assert '"[too deep]"' in meta_text(deep)
