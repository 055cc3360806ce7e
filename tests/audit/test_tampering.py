"""Tampering with the stored trail — editing, deleting, reordering, inserting rows directly in
the database — is found by verification, which names the sequence number and event."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from greenroom.audit import Actor, AuditEvent
from greenroom.audit.checkpoints import write_checkpoint
from greenroom.audit.model import StoredEvent
from greenroom.audit.verify import verify_chain

KEY = "k" * 40


@pytest.fixture
def chain(make_portal):
    def build(extra=None):
        portal = make_portal(extra)
        audit = portal.auditor.for_plugin("demo")
        # the portal recorded nothing yet (start-up events come with the server's start)
        for i in range(1, 11):
            audit.log("thing-mutate", actor=Actor(f"user:default/u{i}", "user"), action="update", target=f"t:{i}",
                      meta={"n": i})
        return portal
    return build


def _sql(portal, statement, **params):
    with portal.database.engine.begin() as connection:
        return connection.execute(text(statement), params)


def _row(portal, seq) -> StoredEvent:
    with portal.database.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM audit_events WHERE seq = :s"), {"s": seq}).first()
    return StoredEvent.from_row(row)


def _problems(portal, signer=None):
    report = verify_chain(portal.database, signer=signer)
    return [(p.kind, p.seq) for p in report.problems], report


def test_an_untouched_chain_verifies(chain):
    problems, report = _problems(chain())
    assert problems == []
    assert report.checked == 10


def test_an_edited_event_is_found_with_its_sequence_number_and_id(chain):
    portal = chain()
    victim = _row(portal, 5)
    _sql(portal, "UPDATE audit_events SET actor_id = 'user:default/eve' WHERE seq = 5")
    problems, report = _problems(portal)
    assert problems == [("edited", 5)]
    assert report.problems[0].event == victim.id


def test_an_edited_and_rehashed_event_breaks_the_next_link(chain):
    portal = chain()
    victim = _row(portal, 5)
    forged = StoredEvent.build(AuditEvent(event_id="thing-mutate", actor=Actor("user:default/eve", "user")),
                               seq=5, id=victim.id, time_us=victim.time_us, prev_hash=victim.prev_hash)
    _sql(portal, "UPDATE audit_events SET actor_id = :a, action = NULL, target = NULL, meta = :m, plugin = :p, "
         "severity = :s, hash = :h WHERE seq = 5", a="user:default/eve", m=forged.meta, p=forged.plugin,
         s=forged.severity, h=forged.hash)
    problems, _ = _problems(portal)
    assert problems == [("link", 6)]


@pytest.mark.parametrize(("seq", "expected"), [
    (5, [("deleted", 5), ("link", 6)]),
    (1, [("deleted", 1), ("link", 2)]),
    (10, [("deleted", 10)]),
])
def test_a_deleted_event_is_found(chain, seq, expected):
    portal = chain()
    _sql(portal, "DELETE FROM audit_events WHERE seq = :s", s=seq)
    problems, report = _problems(portal)
    assert problems == expected
    assert any(str(seq) in p.message for p in report.problems if p.kind == "deleted")


def test_reordered_events_are_found(chain):
    portal = chain()
    _sql(portal, "UPDATE audit_events SET seq = -1 WHERE seq = 4")
    _sql(portal, "UPDATE audit_events SET seq = 4 WHERE seq = 5")
    _sql(portal, "UPDATE audit_events SET seq = 5 WHERE seq = -1")
    problems, report = _problems(portal)
    kinds = {kind for kind, _ in problems}
    assert "reordered" in kinds
    assert {seq for kind, seq in problems if kind == "reordered"} >= {4, 5}
    assert "out of order" in str(report.problems[0]) or any("out of order" in p.message for p in report.problems)


def test_an_event_inserted_in_the_middle_is_found(chain):
    portal = chain()
    _sql(portal, "UPDATE audit_events SET seq = -seq WHERE seq >= 5")
    _sql(portal, "UPDATE audit_events SET seq = 1 - seq WHERE seq < 0")
    four = _row(portal, 4)
    forged = StoredEvent.build(AuditEvent(event_id="thing-mutate", actor=Actor("user:default/eve", "user")),
                               seq=5, id="00000000-0000-0000-0000-000000000005", time_us=four.time_us,
                               prev_hash=four.hash)
    with portal.database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO audit_events (seq, id, time_us, event_id, action, status, severity, plugin, actor_id, "
            "actor_type, meta, prev_hash, hash) VALUES (:seq, :id, :t, :e, :a, :st, :sev, :p, :actor, :at, :m, "
            ":prev, :h)"),
            {"seq": 5, "id": forged.id, "t": forged.time_us, "e": forged.event_id, "a": forged.action,
             "st": forged.status, "sev": forged.severity, "p": forged.plugin, "actor": forged.actor_id,
             "at": forged.actor_type, "m": forged.meta, "prev": forged.prev_hash, "h": forged.hash})
    problems, _ = _problems(portal)
    # the inserted event itself chains correctly, but every event it pushed along was changed
    assert ("edited", 6) in problems
    assert ("inserted", 11) in problems


def test_an_event_appended_behind_the_head_is_found(chain):
    portal = chain()
    ten = _row(portal, 10)
    forged = StoredEvent.build(AuditEvent(event_id="thing-mutate"), seq=11, id="00000000-0000-0000-0000-000000000011",
                               time_us=ten.time_us, prev_hash=ten.hash)
    _sql(portal, "INSERT INTO audit_events (seq, id, time_us, event_id, status, severity, plugin, meta, prev_hash, "
         "hash, actor_id, actor_type) VALUES (11, :id, :t, 'thing-mutate', 'succeeded', 'low', 'core', '{}', :prev, "
         ":h, :a, :at)", id=forged.id, t=forged.time_us, prev=forged.prev_hash, h=forged.hash, a=forged.actor_id,
         at=forged.actor_type)
    problems, _ = _problems(portal)
    assert problems == [("inserted", 11)]


def test_with_a_signing_key_a_rewritten_tail_and_head_are_found(chain):
    portal = chain({"audit": {"signing": {"key": KEY}}})
    assert write_checkpoint(portal.auditor) == 10
    portal.auditor.for_plugin("demo").log("thing-mutate", target="t:11")
    assert _problems(portal, portal.auditor.signer)[0] == []
    # Someone with database access but not the key rewrites event 8 and everything after it.
    prev = _row(portal, 7).hash
    for seq in range(8, 12):
        old = _row(portal, seq)
        forged = StoredEvent.build(AuditEvent(event_id="thing-mutate", target=f"forged:{seq}"), seq=seq, id=old.id,
                                   time_us=old.time_us, prev_hash=prev)
        _sql(portal, "UPDATE audit_events SET target = :t, action = NULL, meta = '{}', actor_id = :a, "
             "actor_type = :at, plugin = 'core', severity = 'low', prev_hash = :p, hash = :h WHERE seq = :s",
             t=forged.target, a=forged.actor_id, at=forged.actor_type, p=prev, h=forged.hash, s=seq)
        prev = forged.hash
    _sql(portal, "UPDATE audit_chain_head SET hash = :h WHERE id = 1", h=prev)
    problems, _ = _problems(portal, portal.auditor.signer)
    assert ("checkpoint", 10) in problems  # the signed checkpoint at 10 names the original hash
    assert ("signature", 11) in problems  # the head's signature no longer matches
    # Without the key the rewrite chains and only the stored checkpoint's hash gives it away.
    assert [p for p in _problems(portal)[0] if p[0] != "signature"] == [("checkpoint", 10)]


def test_a_forged_checkpoint_signature_is_found(chain):
    portal = chain({"audit": {"signing": {"key": KEY}}})
    write_checkpoint(portal.auditor)
    _sql(portal, "UPDATE audit_checkpoints SET mac = :m WHERE kind = 'signed'", m="0" * 64)
    problems, _ = _problems(portal, portal.auditor.signer)
    assert problems == [("signature", 10)]


def _cli_verify(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenroom.cli", "audit-log", "verify", "--config", str(config),
                           *extra], capture_output=True, text=True, timeout=120, check=False)


def test_the_verify_command_exits_non_zero_and_says_where(chain, tmp_path):
    portal = chain()
    config = tmp_path / "app-config-0.yaml"
    ok = _cli_verify(config)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact" in ok.stdout
    victim = _row(portal, 3)
    _sql(portal, "UPDATE audit_events SET meta = :m WHERE seq = 3", m='{"n":99}')
    bad = _cli_verify(config)
    assert bad.returncode == 1
    assert "seq 3" in bad.stdout
    assert victim.id in bad.stdout
    assert "edited" in bad.stdout
    as_json = _cli_verify(config, "--format", "json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert report["problems"][0]["sequence"] == 3
    assert report["problems"][0]["id"] == victim.id


def test_the_verify_command_refuses_bad_input(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "greenroom.cli", "audit-log", "verify", "--config",
                              str(tmp_path / "nope.yaml")], capture_output=True, text=True, timeout=120, check=False)
    assert missing.returncode == 2
    config = tmp_path / "c.yaml"
    database = tmp_path / "empty.sqlite"
    config.write_text(f"backend:\n  database:\n    client: better-sqlite3\n    connection: {database}\n")
    empty = _cli_verify(config)
    assert empty.returncode == 2
    assert "no audit trail" in empty.stderr
    assert _cli_verify(config, "--format", "xml").returncode == 2
