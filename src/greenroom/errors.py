"""The error vocabulary shared by every part of greenroom.

The names match Backstage's `@backstage/errors` so that the HTTP layer can turn any of them
into Backstage's error body (`{"error": {"name": ..., "message": ...}, ...}`) with the same
status code a Backstage backend would use.
"""

from __future__ import annotations


class GreenroomError(Exception):
    """Base class; `name` is what clients see as `error.name`."""

    name = "Error"
    status_code = 500

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


class InputError(GreenroomError):
    name = "InputError"
    status_code = 400


class AuthenticationError(GreenroomError):
    name = "AuthenticationError"
    status_code = 401


class NotAllowedError(GreenroomError):
    name = "NotAllowedError"
    status_code = 403


class NotFoundError(GreenroomError):
    name = "NotFoundError"
    status_code = 404


class ConflictError(GreenroomError):
    name = "ConflictError"
    status_code = 409


class PayloadTooLargeError(GreenroomError):
    name = "PayloadTooLargeError"
    status_code = 413


class ServiceUnavailableError(GreenroomError):
    name = "ServiceUnavailableError"
    status_code = 503


class ConfigError(GreenroomError):
    """Configuration that cannot be used; `path` is the dotted key that is wrong."""

    name = "ConfigError"

    def __init__(self, message: str, *, path: str | None = None, cause: BaseException | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message, cause=cause)
        self.path = path
