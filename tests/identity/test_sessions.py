"""Server-side sessions on SQLite and PostgreSQL: cookies, idle and absolute timeouts,
revocation (one, a user's, everyone's), listing, CSRF tokens."""

from __future__ import annotations

import pytest

from greenroom.identity.service import CredentialError
from greenroom.identity.sessions import SessionError, csrf_token_for


def _create(identity, user="user:default/alice", **kwargs):
    return identity.sessions.create(kind="user", user_ref=user, provider="oidc",
                                    ownership_refs=[user, "group:default/team-a"], **kwargs)


def test_cookie_proves_the_session_and_only_its_hash_is_stored(make_identity, database):
    identity = make_identity()
    session, cookie = _create(identity, client_ip="10.1.2.3", user_agent="browser/1.0")
    sid, _, secret = cookie.partition(".")
    assert sid == session.id
    assert len(secret) >= 43
    found, found_secret = identity.sessions.from_cookie(cookie)
    assert found.user_ref == "user:default/alice"
    assert found_secret == secret
    with database.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT secret_hash FROM identity_sessions").scalar()
    assert secret not in stored
    assert len(stored) == 64
    with pytest.raises(SessionError):
        identity.sessions.from_cookie(f"{sid}.{'x' * 43}")
    with pytest.raises(SessionError):
        identity.sessions.from_cookie("no-dot")


def test_idle_timeout(make_identity, clock):
    identity = make_identity()
    _session, cookie = _create(identity)
    clock.advance(3000)
    identity.sessions.from_cookie(cookie)  # use refreshes last_seen (at most once a minute)
    clock.advance(3000)
    identity.sessions.from_cookie(cookie)
    clock.advance(3601)
    with pytest.raises(SessionError, match="idle") as caught:
        identity.sessions.from_cookie(cookie)
    assert caught.value.reason == "session-idle"


def test_idle_timeout_is_seen_by_other_processes(make_identity, clock):
    """Use through process A keeps the session alive for process B too."""
    a, b = make_identity(), make_identity()
    _session, cookie = _create(a)
    for _ in range(3):
        clock.advance(3000)
        a.sessions.from_cookie(cookie)
    clock.advance(10)
    b.sessions.from_cookie(cookie)


def test_absolute_timeout(make_identity, clock):
    identity = make_identity()
    _session, cookie = _create(identity)
    for _ in range(12):
        clock.advance(3590)
        identity.sessions.from_cookie(cookie)
    clock.advance(200)
    with pytest.raises(SessionError, match="expired"):
        identity.sessions.from_cookie(cookie)


def test_provider_session_duration_shortens_the_absolute_timeout(make_identity, clock):
    identity = make_identity()
    _session, cookie = _create(identity, absolute_timeout=600)
    clock.advance(601)
    with pytest.raises(SessionError, match="expired"):
        identity.sessions.from_cookie(cookie)


def test_revoke_one_a_user_and_everyone(make_identity):
    identity = make_identity()
    a1, c1 = _create(identity)
    _a2, c2 = _create(identity)
    _b1, c3 = _create(identity, "user:default/bob")
    assert identity.sessions.revoke(a1.id, "logout")
    assert not identity.sessions.revoke(a1.id, "again")  # already revoked
    with pytest.raises(SessionError, match="revoked"):
        identity.sessions.from_cookie(c1)
    identity.sessions.from_cookie(c2)
    assert len(identity.sessions.revoke_user("user:default/alice", "sign out everywhere")) == 1
    with pytest.raises(SessionError):
        identity.sessions.from_cookie(c2)
    identity.sessions.from_cookie(c3)
    assert identity.sessions.revoke_all("lockdown") == 1
    with pytest.raises(SessionError):
        identity.sessions.from_cookie(c3)


def test_list_shows_live_sessions_and_optionally_ended_ones(make_identity):
    identity = make_identity()
    live, _ = _create(identity)
    ended, _ = _create(identity)
    _create(identity, "user:default/bob")
    identity.sessions.revoke(ended.id, "logout")
    assert [s.id for s in identity.sessions.list("user:default/alice")] == [live.id]
    assert {s.id for s in identity.sessions.list("user:default/alice", include_ended=True)} == {live.id, ended.id}
    assert len(identity.sessions.list()) == 2
    shown = identity.sessions.list("user:default/alice")[0].to_json(3600)
    assert shown["state"] == "active"
    assert "secret_hash" not in shown
    assert "secretHash" not in shown


def test_csrf_token_is_bound_to_the_session_secret(make_identity):
    identity = make_identity()
    _s1, c1 = _create(identity)
    _s2, c2 = _create(identity)
    t1, t2 = csrf_token_for(c1.partition(".")[2]), csrf_token_for(c2.partition(".")[2])
    assert t1 != t2
    assert len(t1) == 64
    assert c1.partition(".")[2] not in t1


def test_principal_for_local_admin_session(make_identity):
    identity = make_identity(local_mode=True, base_url="http://127.0.0.1:7007")
    assert not identity.settings.secure_cookies
    session, _cookie = identity.sessions.create(kind="local-admin", user_ref="user:default/local-admin",
                                               provider="local", ownership_refs=["user:default/local-admin"])
    token = identity.issue_token(session).token
    principal = identity.principal_from_token(token)
    assert principal.type == "local-admin"
    assert identity.session_cookie_name == "greenroom-session"


def test_one_time_local_login_link(make_identity, clock):
    identity = make_identity(local_mode=True, base_url="http://127.0.0.1:7007")
    url = identity.issue_local_login()
    assert url.startswith("http://127.0.0.1:7007/api/auth/local/login?token=")
    token = url.partition("token=")[2]
    identity.consume_local_login(token)
    with pytest.raises(CredentialError, match="already used"):
        identity.consume_local_login(token)
    stale = identity.issue_local_login().partition("token=")[2]
    clock.advance(301)
    with pytest.raises(CredentialError, match="took too long"):
        identity.consume_local_login(stale)
    with pytest.raises(CredentialError):
        identity.consume_local_login("guessed-token")


def test_local_login_does_not_exist_outside_local_mode(make_identity):
    from greenroom.errors import NotAllowedError

    with pytest.raises(NotAllowedError):
        make_identity().issue_local_login()
