"""JSON and text log lines: one per event, request id attached, every known secret redacted."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from greenroom.config import REDACTED, Config
from greenroom.observability.context import request_id_var
from greenroom.observability.logging import JsonFormatter, TextFormatter, configure_logging

PLAIN = "plain-secret-value-0001"
QUOTED = 'pa"ss\\word-with-quotes-0002'
MULTILINE = "-----BEGIN KEY-----\nline-two-0003\n-----END KEY-----"
UNICODE = "pässwörd-ünïcode-0004"
CONTROL = "tab\tand\x01control-0005"


@pytest.fixture
def config() -> Config:
    data = {
        "app": {
            "password": PLAIN,
            "token": QUOTED,
            "privateKey": MULTILINE,
            "clientSecret": UNICODE,
            "apiKey": CONTROL,
            "title": "not-a-secret-title",
        }
    }
    secret_paths = frozenset(f"app.{k}" for k in ("password", "token", "privateKey", "clientSecret", "apiKey"))
    return Config(data, secret_paths=secret_paths)


ALL_SECRETS = (PLAIN, QUOTED, MULTILINE, UNICODE, CONTROL)


@pytest.fixture
def capture(config: Config) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(level="DEBUG", redact=config.redact_text, stream=stream)
    try:
        yield logging.getLogger("greenroom.test"), stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def fail(error: Exception) -> None:
    raise error


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def assert_no_secret(text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text, secret
        assert json.dumps(secret)[1:-1] not in text, f"escaped {secret!r}"
        for part in secret.split("\n"):
            if len(part) >= 8 and "-" in part and part[-4:].isdigit():
                assert part not in text, part


@pytest.mark.parametrize("secret", ALL_SECRETS)
def test_secret_in_message_is_redacted_even_when_json_escaping_changes_it(
    capture: tuple[logging.Logger, io.StringIO], secret: str
) -> None:
    """A secret with a quote, backslash, newline or control character appears escaped in JSON."""
    log, stream = capture
    log.warning("connecting with %s now", secret)
    (line,) = lines(stream)
    assert line["message"] == f"connecting with {REDACTED} now"
    assert_no_secret(stream.getvalue())


@pytest.mark.parametrize("secret", ALL_SECRETS)
def test_secret_in_extra_fields_is_redacted(capture: tuple[logging.Logger, io.StringIO], secret: str) -> None:
    log, stream = capture
    log.info(
        "event",
        extra={"header": f"Bearer {secret}", "nested": {"k": [secret, 1, None, True]}, "obj": ValueError(secret)},
    )
    (line,) = lines(stream)
    assert line["header"] == f"Bearer {REDACTED}"
    assert line["nested"] == {"k": [REDACTED, 1, None, True]}
    assert line["obj"] == REDACTED
    assert_no_secret(stream.getvalue())


@pytest.mark.parametrize("secret", ALL_SECRETS)
def test_secret_in_exception_text_is_redacted(capture: tuple[logging.Logger, io.StringIO], secret: str) -> None:
    log, stream = capture
    try:
        fail(RuntimeError(f"login failed with {secret}"))
    except RuntimeError:
        log.exception("failure")
    (line,) = lines(stream)
    assert line["level"] == "error"
    assert f"RuntimeError: login failed with {REDACTED}" in line["exception"]
    assert_no_secret(stream.getvalue())


def test_secret_as_an_extra_key_is_redacted(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    log.info("event", extra={"data": {PLAIN: "value"}})
    assert lines(stream)[0]["data"] == {REDACTED: "value"}


def test_non_secrets_and_short_values_are_kept(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    log.info("title is %s", "not-a-secret-title", extra={"count": 3, "ratio": 0.5, "flag": False})
    (line,) = lines(stream)
    assert line["message"] == "title is not-a-secret-title"
    assert (line["count"], line["ratio"], line["flag"]) == (3, 0.5, False)
    assert line["logger"] == "greenroom.test"
    assert line["level"] == "info"
    assert line["time"].endswith("Z")


def test_one_line_per_event_even_with_newlines(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    log.info("first\nsecond")
    log.info("third")
    assert [entry["message"] for entry in lines(stream)] == ["first\nsecond", "third"]


def test_request_id_is_attached(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    token = request_id_var.set("req-123")
    try:
        log.info("inside")
    finally:
        request_id_var.reset(token)
    log.info("outside")
    inside, outside = lines(stream)
    assert inside["requestId"] == "req-123"
    assert "requestId" not in outside


def test_level_is_respected(config: Config) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(level="warning", redact=config.redact_text, stream=stream)
        logging.getLogger("greenroom.x").info("hidden")
        logging.getLogger("greenroom.x").warning("shown")
        assert [entry["message"] for entry in lines(stream)] == ["shown"]
        assert len(root.handlers) == 1
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.mark.parametrize("secret", ALL_SECRETS)
def test_text_format_is_redacted_too(config: Config, secret: str) -> None:
    formatter = TextFormatter(config.redact_text)
    try:
        fail(ValueError(secret))
    except ValueError:
        record = logging.LogRecord("greenroom.t", logging.ERROR, __file__, 1, "using %s", (secret,), sys.exc_info())
    record.header = secret
    text = formatter.format(record)
    assert text.startswith(f"error   greenroom.t: using {REDACTED} header={REDACTED}")
    assert secret not in text


def test_formatter_without_redactor_passes_text_through() -> None:
    record = logging.LogRecord("n", logging.INFO, __file__, 1, "msg %s", ("x",), None)
    assert json.loads(JsonFormatter().format(record))["message"] == "msg x"
