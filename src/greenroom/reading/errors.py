"""Errors raised by the URL reader.

Every message names the URL without its query string (queries often carry signatures or
tokens) and never includes a response body or a request header.
"""

from __future__ import annotations

from greenroom.errors import GreenroomError, NotAllowedError


class UrlNotAllowedError(NotAllowedError):
    """The target is refused by policy before any connection is made.

    `rule` is a short, stable code for the refusing rule (for metrics and tests), for example
    `scheme`, `credentials`, `host`, `port`, `path`, `ambiguous-path`, `private-address`,
    `blocked-address`, `redirect-downgrade`, `escapes-host`, `escapes-tree`.
    """

    def __init__(self, message: str, *, rule: str, cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)
        self.rule = rule


class UrlReadError(GreenroomError):
    """The target was allowed but could not be read (bad status, broken connection, DNS)."""

    name = "UrlReadError"
    status_code = 502

    def __init__(
        self, message: str, *, status: int | None = None, cause: BaseException | None = None
    ) -> None:
        super().__init__(message, cause=cause)
        self.status = status


class UrlReadTimeoutError(UrlReadError):
    """The read did not finish within the configured time limit."""

    name = "UrlReadTimeoutError"
    status_code = 504


class NotModifiedError(GreenroomError):
    """The server answered 304 to a conditional read: the caller's copy is current."""

    name = "NotModifiedError"
    status_code = 304
