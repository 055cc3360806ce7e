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
