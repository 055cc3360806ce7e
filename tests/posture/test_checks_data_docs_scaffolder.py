"""Data, TechDocs and scaffolder checks, positive and negative."""

from __future__ import annotations

import json

import pytest

from greenroom.posture import Severity
from tests.posture.conftest import findings, ids

# -- GR-DATA-001 embedded database --------------------------------------------------------------


def test_in_memory_database_in_production(audit):
    report = audit("backend:\n  database:\n    client: better-sqlite3\n    connection: ':memory:'\n", production=True)
    [finding] = findings(report, "GR-DATA-001")
    assert finding.severity is Severity.HIGH
    assert finding.location.line == 4


def test_sqlite_file_in_production(audit):
    backstage = audit("backend:\n  database:\n    client: better-sqlite3\n    connection: /data/b.sqlite\n",
                      production=True)
    assert findings(backstage, "GR-DATA-001")[0].severity is Severity.MEDIUM
    greenroom = audit("app:\n  production: true\nbackend:\n  database:\n    client: better-sqlite3\n"
                      "    connection: /data/g.sqlite\n")
    assert findings(greenroom, "GR-DATA-001")[0].severity is Severity.LOW


def test_embedded_database_outside_production_or_postgres_passes(audit):
    sqlite = "backend:\n  database:\n    client: better-sqlite3\n    connection: ':memory:'\n"
    assert "GR-DATA-001" not in ids(audit(sqlite))
    postgres = "backend:\n  database:\n    client: pg\n    connection: postgresql://db/x?sslmode=verify-full\n"
    assert "GR-DATA-001" not in ids(audit(postgres, production=True))


# -- GR-DATA-002 PostgreSQL TLS ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("connection", "severity"),
    [
        ("\n      host: db.example.com\n      password: ${PW}\n", "high"),
        ("\n      host: db.example.com\n      ssl: false\n", "high"),
        ("\n      host: db.example.com\n      ssl:\n        rejectUnauthorized: false\n", "high"),
        ("\n      host: ${POSTGRES_HOST}\n", "medium"),
        (" postgresql://u:${PW}@db.example.com:5432/backstage", "high"),
        (" postgresql://u:${PW}@db.example.com:5432/backstage?sslmode=require", "medium"),
    ],
)
def test_postgres_without_verified_tls(audit, connection, severity):
    report = audit(f"backend:\n  database:\n    client: pg\n    connection:{connection}\n", production=True)
    [finding] = findings(report, "GR-DATA-002")
    assert finding.severity.value == severity


@pytest.mark.parametrize(
    "connection",
    [
        "\n      host: db.example.com\n      ssl:\n        ca:\n          $file: /etc/ssl/db-ca.pem\n",
        "\n      host: db.example.com\n      ssl: true\n",
        "\n      host: 127.0.0.1\n",
        "\n      host: /var/run/postgresql\n",
        " postgresql://u:${PW}@db.example.com/backstage?sslmode=verify-full",
    ],
)
def test_postgres_with_tls_or_local_passes(audit, connection):
    report = audit(f"backend:\n  database:\n    client: pg\n    connection:{connection}\n", production=True)
    assert "GR-DATA-002" not in ids(report)


def test_deploy_time_host_outside_production_is_not_reported(audit):
    assert "GR-DATA-002" not in ids(audit("backend:\n  database:\n    client: pg\n    connection:\n      host: ${H}\n"))


def test_greenroom_ssl_true_does_not_verify(audit):
    report = audit("plugins:\n  allow: []\nbackend:\n  database:\n    client: pg\n    connection:\n"
                   "      host: db.example.com\n      ssl: true\n")
    assert findings(report, "GR-DATA-002")[0].severity is Severity.MEDIUM


# -- GR-DOCS-001 / 002 --------------------------------------------------------------------------


def test_local_generator(audit):
    report = audit("techdocs:\n  builder: local\n  generator:\n    runIn: local\n", production=True)
    [finding] = findings(report, "GR-DOCS-001")
    assert finding.severity is Severity.HIGH
    assert finding.location.key == "techdocs.generator.runIn"


def test_docker_or_external_generator_passes(audit):
    assert "GR-DOCS-001" not in ids(audit("techdocs:\n  builder: local\n  generator:\n    runIn: docker\n"))
    assert "GR-DOCS-001" not in ids(audit("techdocs:\n  builder: external\n  generator:\n    runIn: local\n"))


def test_publisher_in_tmp_and_local_in_production(audit):
    report = audit("techdocs:\n  publisher:\n    type: local\n    local:\n      publishDirectory: /tmp/techdocs\n")
    assert findings(report, "GR-DOCS-002")[0].severity is Severity.MEDIUM
    report = audit("techdocs:\n  builder: external\n  publisher:\n    type: local\n", production=True)
    assert findings(report, "GR-DOCS-002")[0].severity is Severity.LOW


def test_object_storage_publisher_passes(audit):
    report = audit("techdocs:\n  builder: external\n  publisher:\n    type: awsS3\n", production=True)
    assert "GR-DOCS-002" not in ids(report)


# -- GR-SCAF-001 / 002 ----------------------------------------------------------------------------


def test_templates_allowed_from_anywhere(audit):
    report = audit("catalog:\n  rules:\n    - allow: [Component, Template]\n")
    [finding] = findings(report, "GR-SCAF-001")
    assert finding.location.key == "catalog.rules[0].allow"


def test_templates_only_from_a_location_pass(audit):
    report = audit(
        "catalog:\n  rules:\n    - allow: [Component]\n  locations:\n    - type: url\n"
        "      target: https://github.com/org/templates/blob/main/all.yaml\n      rules:\n        - allow: [Template]\n"
    )
    assert "GR-SCAF-001" not in ids(report)


def test_greenroom_templates_from_files_only_pass(audit):
    local = (
        "plugins:\n  allow: []\ncatalog:\n  rules:\n    - allow: [Template]\n"
        "  locations:\n    - type: file\n      target: ./t.yaml\n"
    )
    assert "GR-SCAF-001" not in ids(audit(local))
    remote = local.replace("type: file\n      target: ./t.yaml", "type: url\n      target: https://example.com/t.yaml")
    assert "GR-SCAF-001" in ids(audit(remote))


def test_dangerous_actions_in_greenroom_allow_list(audit):
    report = audit("plugins:\n  allow: []\nscaffolder:\n  actions:\n    allow: [fetch:template, fetch:cookiecutter]\n")
    [finding] = findings(report, "GR-SCAF-002")
    assert finding.location.key == "scaffolder.actions.allow[1]"
    safe = "plugins:\n  allow: []\nscaffolder:\n  actions:\n    allow: [fetch:template]\n"
    assert "GR-SCAF-002" not in ids(audit(safe))


def test_dangerous_scaffolder_modules(audit, tmp_path):
    backend = tmp_path / "backend"
    backend.mkdir()
    deps = {
        "@backstage/plugin-scaffolder-backend-module-yeoman": "0.4.0",
        "@backstage/plugin-scaffolder-backend": "2.0.0",
    }
    (backend / "package.json").write_text(json.dumps({"name": "backend", "dependencies": deps}, indent=2))
    report = audit("app:\n  title: x\n", packages=backend)
    [finding] = findings(report, "GR-SCAF-002")
    assert "run:yeoman" in finding.message
    assert finding.location.line == 4
