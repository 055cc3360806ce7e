"""Appenders in many threads and many processes get one gap-free chain (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from greenroom.audit import Actor
from greenroom.audit.verify import verify_chain
from tests.audit.conftest import trail

THREADS = 8
PER_THREAD = 40
PROCESSES = 4
PER_PROCESS = 40

APPENDER = """
import sys
from greenroom.audit.service import AuditService
from greenroom.audit.settings import load_audit_settings
from greenroom.audit.model import Actor
from greenroom.config import load_app_config
from greenroom.db.engine import Database

config = load_app_config([sys.argv[1]])
service = AuditService(Database.from_config(config), load_audit_settings(config))
audit = service.for_plugin("proc")
for i in range(int(sys.argv[3])):
    audit.log("proc-event", actor=Actor(f"proc:{sys.argv[2]}", "service"), target=str(i))
"""


def test_threads_append_one_gap_free_chain(make_portal):
    portal = make_portal()
    audit = portal.auditor.for_plugin("demo")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(PER_THREAD):
                audit.log("thread-event", actor=Actor(f"thread:{n}", "service"), target=str(i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    events = trail(portal, order="asc")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len(trail(portal, event_id="thread-event")) == THREADS * PER_THREAD
    report = verify_chain(portal.database)
    assert report.ok, report.problems
    assert report.head_seq == len(events)


def test_processes_append_one_gap_free_chain(make_portal, tmp_path):
    portal = make_portal()
    config = tmp_path / "app-config-0.yaml"
    script = tmp_path / "appender.py"
    script.write_text(APPENDER, encoding="utf-8")
    procs = [subprocess.Popen([sys.executable, str(script), str(config), str(n), str(PER_PROCESS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path.cwd())
             for n in range(PROCESSES)]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    events = trail(portal, order="asc")
    assert len(trail(portal, event_id="proc-event")) == PROCESSES * PER_PROCESS
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.actor_id for e in events} == {f"proc:{n}" for n in range(PROCESSES)}
    assert verify_chain(portal.database).ok


def test_appenders_that_expect_a_stale_head_still_chain_correctly(make_portal):
    """Each store remembers the head it last wrote and appends after it without reading it; the
    database decides. Two stores on one database (two processes) interleaving, and an append
    whose transaction rolls back, leave one gap-free chain that verifies."""
    from greenroom.audit.model import AuditEvent
    from greenroom.audit.store import AuditStore

    portal = make_portal()
    first = AuditStore(portal.database)
    second = AuditStore(portal.database)
    engine = portal.database.engine

    def append(store: AuditStore, target: str) -> int:
        with engine.begin() as connection:
            [stored] = store.append(connection, [AuditEvent("stale-head", target=target)])
        return stored.seq

    seqs = [append(first, "a1"), append(first, "a2")]  # the second one moves the head it expects
    seqs.append(append(second, "b1"))  # `second` has expected nothing yet: it reads the head
    seqs.append(append(first, "a3"))  # `first` expects a head that moved: it must not fork the chain
    with engine.connect() as connection, connection.begin() as transaction:
        first.append(connection, [AuditEvent("stale-head", target="rolled-back")])
        transaction.rollback()
    seqs.append(append(first, "a4"))  # it expects the rolled-back head, which never existed
    seqs.append(append(second, "b2"))
    assert seqs == sorted(seqs) and seqs == list(range(seqs[0], seqs[0] + 6))
    events = trail(portal, event_id="stale-head", order="asc")
    assert [e.target for e in events] == ["a1", "a2", "b1", "a3", "a4", "b2"]
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    report = verify_chain(portal.database)
    assert report.ok, report.problems
    assert report.head_seq == seqs[-1]
