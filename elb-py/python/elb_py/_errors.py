"""Exceptions raised by elb_py, one class per kind of failure.

Every class derives from :class:`ElbError`, and some also from the builtin exception that
Python code already catches for that case, so ``except FileNotFoundError`` works for a
missing blob.
"""

from __future__ import annotations

__all__ = [
    "ElbError",
    "NotFoundError",
    "AlreadyExistsError",
    "ConflictError",
    "PreconditionFailedError",
    "PermissionDeniedError",
    "AuthenticationError",
    "ThrottledError",
    "InvalidInputError",
    "TimedOutError",
    "IntegrityError",
    "UnavailableError",
    "TransportError",
    "ServiceError",
]


class ElbError(Exception):
    """Base class of every error that elb_py raises for a failed operation.

    Attributes:
        kind: The kind of failure in words, such as ``"not found"`` or ``"throttled"``.
        status: The HTTP status the service returned, or ``None``.
        code: The service's error code (``BlobNotFound``, ``AADSTS700016``), or ``None``.
        target: The object the operation acted on: a URL without its SAS query, a blob
            name or a Kubernetes object as ``Kind namespace/name``; ``None`` when unknown.
        retry_after: Seconds the service asked the client to wait, or ``None``.
    """

    kind: str = "service error"
    status: int | None = None
    code: str | None = None
    target: str | None = None
    retry_after: float | None = None


class NotFoundError(ElbError, FileNotFoundError):
    """The blob, container, record, Kubernetes object or file does not exist."""


class AlreadyExistsError(ElbError, FileExistsError):
    """The object already exists and the operation must not replace it."""


class ConflictError(ElbError):
    """A concurrent writer changed the object first, such as a stale ``resourceVersion``."""


class PreconditionFailedError(ElbError):
    """A condition of the request, such as an ETag, did not hold."""


class PermissionDeniedError(ElbError, PermissionError):
    """The identity is known but lacks the permission for the operation."""


class AuthenticationError(ElbError):
    """No valid identity: a token could not be obtained or the service rejected it."""


class ThrottledError(ElbError):
    """The service asked the client to slow down and the retries ran out."""


class InvalidInputError(ElbError, ValueError):
    """An argument or configuration value is invalid; the message names it and the fix."""


class TimedOutError(ElbError, TimeoutError):
    """An operation, a request or a wait ran past its deadline."""


class IntegrityError(ElbError):
    """Data failed an integrity check, such as a checksum mismatch."""


class UnavailableError(ElbError):
    """A credential or endpoint is not configured or not reachable in this environment."""


class TransportError(ElbError, ConnectionError):
    """The connection failed or broke: refused, reset, TLS failure or truncated body."""


class ServiceError(ElbError):
    """The service returned an error that fits no other kind, after retries."""
