"""Export (CLI and service) marks events exported; retention deletes only exported or forwarded
events, oldest first, and the chain still verifies from the prune checkpoint."""

from __future__ import annotations

import csv
import io
import json
import logging
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from greenroom.audit import Actor, AuditQuery, cli_actor
from greenroom.audit.retention import prune
from greenroom.audit.verify import verify_chain
from tests.audit.conftest import trail

LATER = time.time() + 3 * 86400  # "now" for pruning: everything recorded in the test is 3 days old


def _record(portal, count, start=0):
    audit = portal.auditor.for_plugin("demo")
    for i in range(start, start + count):
        audit.log("thing-mutate", actor=Actor("user:default/alice", "user"), target=f"t:{i}")


def _export(portal, **query):
    out = io.BytesIO()
    result = portal.auditor.export(AuditQuery(order="asc", **query), "jsonl", out, actor=cli_actor())
    return result, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def retained(make_portal):
    def build(**retention):
        return make_portal({"audit": {"retention": {"days": 1, **retention}}})
    return build


def test_unexported_events_are_never_pruned_and_that_is_logged(retained, caplog):
    portal = retained()
    _record(portal, 5)
    with caplog.at_level(logging.WARNING, logger="greenroom.audit"):
        result = prune(portal.auditor, now=LATER)
    assert (result.deleted, result.kept_unexported, result.first_kept_seq) == (0, 5, 1)
    assert "never exported or forwarded" in caplog.text
    assert len(trail(portal)) == 5
    assert trail(portal, event_id="audit-prune") == []


def test_exported_events_are_pruned_and_the_chain_verifies_from_the_checkpoint(retained):
    portal = retained()
    _record(portal, 6)
    exported, lines = _export(portal)
    assert exported.count == 6
    assert [line["sequence"] for line in lines] == [1, 2, 3, 4, 5, 6]
    _record(portal, 2, start=6)  # newer events: not exported
    result = prune(portal.auditor, now=LATER)
    assert (result.deleted, result.through_seq) == (6, 6)
    assert result.kept_unexported == 3  # the export event and the two newer ones
    remaining = trail(portal, order="asc")
    assert remaining[0].seq == 7
    [pruned] = trail(portal, event_id="audit-prune")
    assert pruned.to_json()["meta"]["throughSequence"] == 6
    report = verify_chain(portal.database)
    assert report.ok, report.problems
    assert report.anchor_seq == 6
    # tampering with the first retained event is still found
    with portal.database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET target = 'x' WHERE seq = 7"))
    assert [(p.kind, p.seq) for p in verify_chain(portal.database).problems] == [("edited", 7)]


def test_deleting_the_prune_checkpoint_is_found(retained):
    portal = retained()
    _record(portal, 4)
    _export(portal)
    prune(portal.auditor, now=LATER)
    with portal.database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_checkpoints WHERE kind = 'prune'"))
    problems = verify_chain(portal.database).problems
    assert ("deleted", 1) in [(p.kind, p.seq) for p in problems]


def test_forwarded_events_count_as_copied(make_portal):
    from greenroom.audit.forwarding import Forwarder, sinks_from
    from tests.audit.test_forwarding import Webhook

    hook = Webhook()
    portal = make_portal({"audit": {"retention": {"days": 1},
                                    "forwarding": {"webhook": {"url": hook.url}}}})
    try:
        _record(portal, 4)
        settings = portal.auditor.settings.forwarding
        forwarder = Forwarder(portal.auditor.store, sinks_from(settings), settings)
        assert forwarder.deliver_all() == 4
        forwarder.close()
        _record(portal, 1, start=4)  # recorded after the delivery: not forwarded yet
        result = prune(portal.auditor, now=LATER)
        assert (result.deleted, result.kept_unexported) == (4, 1)
    finally:
        hook.close()


def test_dangerously_deleting_unexported_events_is_loud(retained, caplog):
    portal = retained(dangerouslyDeleteUnexported=True)
    _record(portal, 3)
    with caplog.at_level(logging.WARNING, logger="greenroom.audit"):
        result = prune(portal.auditor, now=LATER)
    assert (result.deleted, result.unexported_deleted) == (3, 3)
    assert "dangerouslyDeleteUnexported" in caplog.text
    [event] = trail(portal, event_id="audit-prune")
    assert event.severity == "high"
    assert event.to_json()["meta"]["unexportedDeleted"] == 3
    assert verify_chain(portal.database).ok


def test_bad_retention_config_is_refused(make_portal):
    from greenroom.errors import ConfigError

    with pytest.raises(ConfigError, match=r"audit\.retention\.days"):
        make_portal({"audit": {"retention": {"days": 0}}})
    with pytest.raises(ConfigError, match=r"audit\.retention\.keepForever"):
        make_portal({"audit": {"retention": {"keepForever": True}}})


def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "greenroom.cli", "audit-log", *args], capture_output=True,
                          timeout=120, check=False, **kwargs)


def test_export_command_writes_jsonl_and_csv_and_is_recorded(make_portal, tmp_path):
    portal = make_portal()
    config = str(tmp_path / "app-config-0.yaml")
    _record(portal, 4)
    audit = portal.auditor.for_plugin("demo")
    audit.log("thing-mutate", target="=HYPERLINK(\"http://evil\")")  # a formula for spreadsheets
    out = _cli("export", "--config", config, "--since", "1d")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["target"] for line in lines][:4] == ["t:0", "t:1", "t:2", "t:3"]
    target = tmp_path / "export.csv"
    written = _cli("export", "--config", config, "--format", "csv", "--since", "2000-01-01", "--until",
                   "2999-01-01T00:00:00Z", "--output", str(target))
    assert written.returncode == 0, written.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0]["eventId"] == "thing-mutate"
    assert rows[4]["target"].startswith("'=HYPERLINK")  # neutralised for spreadsheets
    exports = trail(portal, event_id="audit-export")
    assert len(exports) == 2
    assert exports[0].actor_id.startswith("cli:")
    assert exports[1].to_json()["meta"]["format"] == "csv"
    with portal.database.engine.connect() as connection:
        unexported = connection.execute(text("SELECT count(*) FROM audit_events WHERE exported_at IS NULL")).scalar()
    assert unexported == 1  # only the second export's own event
    assert verify_chain(portal.database).ok


@pytest.mark.parametrize(("args", "message"), [
    ((), "--since is required"),
    (("--since", "last tuesday"), "not an ISO 8601 time"),
    (("--since", "2026-02-01", "--until", "2026-01-01"), "later than"),
    (("--since", "1d", "--format", "xml"), "jsonl or csv"),
])
def test_export_command_refuses_bad_input(make_portal, tmp_path, args, message):
    make_portal()
    out = _cli("export", "--config", str(tmp_path / "app-config-0.yaml"), *args)
    assert out.returncode == 2
    assert message in out.stderr.decode()


def test_prune_and_status_commands(make_portal, tmp_path):
    portal = make_portal({"audit": {"retention": {"days": 1}}})
    config = str(tmp_path / "app-config-0.yaml")
    _record(portal, 2)
    status = json.loads(_cli("status", "--config", config).stdout)
    assert (status["headSequence"], status["unexportedEvents"], status["retentionDays"]) == (2, 2, 1)
    out = _cli("prune", "--config", config)  # nothing is older than a day yet
    assert out.returncode == 0
    assert b"deleted 0 event(s)" in out.stdout
