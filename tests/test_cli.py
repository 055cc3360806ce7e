"""The `greenroom` command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import BENCH_TOKEN, free_port

GOOD = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: good
spec:
  type: service
  lifecycle: production
  owner: team-a
"""
BAD = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: Bad Name
spec:
  type: service
  owner: team-a
"""


def greenroom(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenroom.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, check=False)


def write_config(tmp_path: Path, database_config: dict, extra: dict | None = None) -> Path:
    config = {"backend": {"database": database_config, "auth": {"externalAccess": [
        {"type": "static", "options": {"token": BENCH_TOKEN, "subject": "cli-test"}}]}},
        "catalog": {"rules": [{"allow": ["Component", "Location", "Group", "User"]}], "processingInterval": False}}
    config.update(extra or {})
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_validate_reports_file_and_line_and_exits_1(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text(GOOD + "---\n" + BAD, encoding="utf-8")
    ok = greenroom("catalog", "validate", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "1 entities checked, 0 error(s)" in ok.stdout
    failed = greenroom("catalog", "validate", str(good), str(mixed))
    assert failed.returncode == 1
    assert f"{mixed}:10:" in failed.stderr
    assert '"metadata.name" is not valid' in failed.stderr
    as_json = json.loads(greenroom("catalog", "validate", str(mixed), "--format", "json").stdout)
    assert as_json["checked"] == 2
    assert as_json["errors"][0]["line"] == 10


def test_validate_malformed_yaml_and_bomb(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n", encoding="utf-8")
    result = greenroom("catalog", "validate", str(broken))
    assert result.returncode == 1
    assert f"{broken}:" in result.stderr
    assert "YAML error" in result.stderr
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(7)),
        encoding="utf-8")
    started = time.monotonic()
    result = greenroom("catalog", "validate", str(bomb))
    assert result.returncode == 1
    assert "billion laughs" in result.stderr
    assert time.monotonic() - started < 30


def test_import_file_location_then_status(tmp_path, database_config):
    catalog = tmp_path / "catalog" / "catalog-info.yaml"
    catalog.parent.mkdir()
    catalog.write_text(GOOD, encoding="utf-8")
    config = write_config(tmp_path, database_config)
    result = greenroom("catalog", "import", str(catalog), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "2 new" in result.stdout  # the component and the location's generated Location entity
    again = greenroom("catalog", "import", str(catalog), "--config", str(config))
    assert again.returncode == 0
    assert "2 unchanged" in again.stdout
    status = json.loads(greenroom("catalog", "status", "--config", str(config), "--format", "json").stdout)
    assert [i["entityCount"] for i in status["items"]] == [2]


def test_import_reports_errors_with_exit_1(tmp_path, database_config):
    catalog = tmp_path / "bad.yaml"
    catalog.write_text(BAD, encoding="utf-8")
    config = write_config(tmp_path, database_config)
    result = greenroom("catalog", "import", str(catalog), "--config", str(config))
    assert result.returncode == 1
    assert "metadata.name" in result.stderr


def test_db_upgrade_is_idempotent(tmp_path, database_config):
    config = write_config(tmp_path, database_config)
    first = greenroom("db", "upgrade", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "up to date" in greenroom("db", "upgrade", "--config", str(config)).stdout


def test_config_print_redacts_secrets(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text("backend:\n  database:\n    client: pg\n    connection:\n      password: ${DB_PASSWORD}\n"
                      "      host: db.internal\n", encoding="utf-8")
    result = greenroom("config", "print", "--config", str(config), env={"DB_PASSWORD": "hunter2-very-secret"})
    assert result.returncode == 0, result.stderr
    assert "hunter2-very-secret" not in result.stdout
    assert json.loads(result.stdout)["backend"]["database"]["connection"]["password"] == "[REDACTED]"


def test_config_check_reports_key_and_line(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text("backend:\n  database:\n    client: mongodb\n", encoding="utf-8")
    result = greenroom("config", "check", "--config", str(config))
    assert result.returncode == 1
    assert "backend.database.client" in result.stderr
    assert f"{config}:3" in result.stderr


def test_config_check_validates_the_audit_and_auth_sections(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text("audit:\n  enabled: true\n  retention: {days: 30, dangerouslyDelete: yes}\n", encoding="utf-8")
    result = greenroom("config", "check", "--config", str(config))
    assert result.returncode == 1
    assert "audit.retention.dangerouslyDelete" in result.stderr
    config.write_text("auth:\n  backstageTokenExpiration: {hours: 5}\n", encoding="utf-8")
    result = greenroom("config", "check", "--config", str(config))
    assert result.returncode == 1
    assert "backstageTokenExpiration" in result.stderr


def _wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server not ready")


def _login_url(lines: list[str], proc: subprocess.Popen[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if "/api/auth/local/login?token=" in line:
                return line.strip()
        if proc.poll() is not None:
            raise AssertionError("serve exited: " + "".join(lines))
        time.sleep(0.05)
    raise AssertionError("no login link printed: " + "".join(lines))


def test_zero_config_serve_runs_on_loopback_with_example_catalog(tmp_path):
    """Local mode: no guest, no credential-less admin; a one-time login link signs the local admin in."""
    port = free_port()
    env = {**os.environ, "GREENROOM_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "greenroom.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    assert proc.stderr is not None
    threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{port}"
        login = _login_url(lines, proc)
        assert login.startswith(f"{url}/api/auth/local/login?token=")
        _wait_ready(url, proc)
        # Without signing in, loopback callers get nothing: local mode has no credential-less admin.
        assert httpx.get(f"{url}/api/catalog/entity-facets?facet=kind").status_code == 401
        signed_in = httpx.get(login)
        assert signed_in.status_code == 200
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie  # dropped only because this is local mode on http://127.0.0.1
        assert httpx.get(login).status_code == 401  # the link works once
        session = {"greenroom-session": signed_in.cookies["greenroom-session"]}
        # The web UI is at the root: anonymous browsers go to the sign-in page, the local admin is home.
        assert 'href="/"' in signed_in.text  # the login page leads on to it
        anonymous = httpx.get(f"{url}/", headers={"Accept": "text/html"})
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/sign-in"
        home = httpx.get(f"{url}/", headers={"Accept": "text/html"}, cookies=session)
        assert home.status_code == 200
        assert "Welcome, local-admin" in home.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = httpx.get(f"{url}/api/catalog/entity-facets?facet=kind", cookies=session).json()
            kinds = {f["value"] for f in body["facets"]["kind"]}
            if len(kinds) == 9:
                break
            time.sleep(0.2)
        assert kinds == {"API", "Component", "Domain", "Group", "Location", "Resource", "System", "Template", "User"}
        relations = httpx.get(f"{url}/api/catalog/entities/by-name/group/default/storefront-team",
                              cookies=session).json()["relations"]
        types = {r["type"] for r in relations}
        assert {"ownerOf", "hasMember", "childOf"} <= types
        # Local mode answers loopback only and refuses a foreign Host header (DNS rebinding).
        assert httpx.get(f"{url}/api/catalog/entities", headers={"Host": "evil.example"},
                         cookies=session).status_code == 421
        assert (tmp_path / "home" / "greenroom.sqlite").exists()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{_non_loopback_address()}:{port}/healthz", timeout=1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _non_loopback_address() -> str:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it picks a route
            address: str = sock.getsockname()[0]
        except OSError:
            pytest.fail("no non-loopback interface to test with")
    if address.startswith("127."):
        pytest.fail("no non-loopback interface to test with")
    return address


def test_zero_config_refuses_non_loopback_bind(tmp_path):
    result = greenroom("serve", "--host", "0.0.0.0", env={"GREENROOM_HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "only binds to loopback" in result.stderr


def test_short_static_token_stops_start_up(tmp_path, database_config):
    config = write_config(tmp_path, database_config, {"backend": {"database": database_config, "auth": {
        "externalAccess": [{"type": "static", "options": {"token": "qz7-tiny", "subject": "x"}}]}}})
    result = greenroom("serve", "--config", str(config), "--port", str(free_port()))
    assert result.returncode == 2
    assert "at least 16 characters" in result.stderr
    assert "qz7-tiny" not in result.stderr  # the token itself is never printed
