"""The assembled application: health, metrics, request ids, security headers, error bodies."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from tests.conftest import auth_headers


@pytest.fixture
def portal(make_portal):
    return make_portal()


@pytest.fixture
def client(portal):
    return TestClient(portal.app, raise_server_exceptions=False)


def test_health_and_readiness_are_public(client):
    for path in ("/healthz", "/readyz", "/.backstage/health/v1/readiness", "/.backstage/health/v1/liveness"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.json() == {"status": "ok"}


def test_readiness_fails_when_the_database_is_gone(portal, client):
    from sqlalchemy import create_engine

    real = portal.database.engine
    # a port nothing listens on, on loopback
    portal.database.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                           connect_args={"connect_timeout": 2})
    try:
        response = client.get("/readyz")
    finally:
        portal.database.engine.dispose()
        portal.database.engine = real
    assert response.status_code == 503
    assert client.get("/readyz").status_code == 200


def test_metrics_need_credentials_and_report_requests(client):
    assert client.get("/metrics").status_code == 401
    client.get("/api/catalog/entities", headers=auth_headers())
    body = client.get("/metrics", headers=auth_headers()).text
    assert "greenroom_http_request_duration_seconds_bucket" in body
    assert 'route="/api/catalog/entities"' in body
    assert "greenroom_catalog_ingest_runs_total" in body


def test_security_headers_on_every_response(client):
    for response in (client.get("/healthz"), client.get("/api/catalog/entities"),
                     client.get("/nope"), client.get("/api/openapi.json")):
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"


def test_hsts_only_when_served_over_https(make_portal):
    plain = TestClient(make_portal().app)
    assert "strict-transport-security" not in plain.get("/healthz").headers
    secure = TestClient(make_portal({"backend": {"baseUrl": "https://portal.example.com"}}).app)
    assert secure.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"x-request-id": "bad id with spaces"}).headers["x-request-id"]
    assert generated != "bad id with spaces"
    assert len(generated) == 16


def test_access_log_lines_are_json_with_request_id(client, caplog):
    from greenroom.observability.logging import JsonFormatter

    caplog.set_level(logging.INFO, logger="greenroom.access")
    client.get("/api/catalog/entities", headers={**auth_headers(), "x-request-id": "req-42"})
    record = next(r for r in caplog.records if r.name == "greenroom.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request"
    assert line["status"] == 200
    assert line["principal"] == "external:tests"
    assert "Authorization" not in json.dumps(line)
    assert "test-static-token" not in json.dumps(line)


def test_unknown_route_and_wrong_method_get_backstage_error_bodies(client):
    response = client.get("/api/catalog/nope", headers=auth_headers())
    assert response.status_code == 404
    assert response.json()["error"]["name"] == "NotFoundError"
    assert response.json()["request"] == {"method": "GET", "url": "/nope"}
    wrong = client.delete("/api/catalog/entities", headers=auth_headers())
    assert wrong.status_code == 405


def test_internal_errors_do_not_leak_details(portal, client):
    from greenroom.plugins.catalog.plugin import CATALOG

    service = portal.registry.services.get(CATALOG)

    def boom(*_args, **_kwargs):
        raise RuntimeError("secret internal detail /etc/shadow")

    service.queries.by_ref = boom
    response = client.get("/api/catalog/entities/by-name/component/default/x", headers=auth_headers())
    assert response.status_code == 500
    assert response.json()["error"] == {"name": "Error", "message": "An internal error occurred"}
    assert "shadow" not in response.text


def test_access_restrictions_cap_a_static_token(make_portal):
    portal = make_portal({"backend": {"auth": {"externalAccess": [
        {"type": "static", "options": {"token": "restricted-token-0123456789", "subject": "reader"},
         "accessRestrictions": [{"plugin": "catalog", "permission": "catalog.entity.read"}]}]}}})
    client = TestClient(portal.app)
    headers = {"Authorization": "Bearer restricted-token-0123456789"}
    assert client.get("/api/catalog/entities", headers=headers).status_code == 200
    denied = client.post("/api/catalog/locations", headers=headers, json={"type": "url", "target": "https://x/y"})
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "Missing permission catalog.location.create"
    assert client.get("/metrics", headers=headers).status_code == 403


def test_switching_off_a_builtin_after_its_tables_exist_still_starts(make_portal):
    first = make_portal()
    assert first.registry.plugin("catalog") is not None
    second = make_portal({"plugins": {"disabled": ["catalog", "auth"]}})  # auth needs the catalog
    assert second.registry.plugin("catalog") is None
    client = TestClient(second.app)
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/catalog/entities", headers=auth_headers()).status_code == 404


@pytest.mark.parametrize("mount", ["/api", "/.backstage", "/healthz", "/metrics", "/.backstage/health"])
def test_plugins_cannot_mount_over_core_paths(mount):
    from greenroom.kernel import PluginManifest

    with pytest.raises(ValueError, match="overlaps the core"):
        PluginManifest(id="sneaky", version="1", mounts=(mount,))


def test_serving_hooks_run_once_after_the_start_hooks(make_portal):
    """Background work that would slow start-up (a first ingestion) waits for `serving`: at the
    end of the ASGI start-up, or, when the server says it will call it (`greenroom serve`, once
    it listens), then and only once."""
    calls: list[str] = []
    portal = make_portal()
    context = portal.registry.contexts[0]
    context.start_hooks.append(lambda: calls.append("start"))
    context.serving_hooks.append(lambda: calls.append("serving"))
    with TestClient(portal.app):
        assert calls == ["start", "serving"]

    calls.clear()
    deferred = make_portal()
    context = deferred.registry.contexts[0]
    context.start_hooks.append(lambda: calls.append("start"))
    context.serving_hooks.append(lambda: calls.append("serving"))
    deferred.defer_serving = True
    with TestClient(deferred.app):
        assert calls == ["start"]
        deferred.serving()
        deferred.serving()
        assert calls == ["start", "serving"]
