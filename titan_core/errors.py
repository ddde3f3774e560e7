"""Errors a client can act on, and their rendering as the IDTA Part 2 error body.

Every layer raises one of these; the API layer turns them into `{"messages": [...]}` with the
matching HTTP status, so a handler never builds an error response by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (a JSON path like `submodelElements[2].idShort`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class TitanError(Exception):
    """Base class: an HTTP status, a stable machine-readable code and a human message."""

    message: str
    violations: list[Violation] = field(default_factory=list)
    status: int = 500
    code: str = "InternalError"

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        if not self.violations:
            return self.message
        return self.message + "; " + "; ".join(str(v) for v in self.violations)

    def to_body(self) -> dict[str, Any]:
        """The IDTA `Result` body: one message for the error, one more per violation."""
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        messages: list[dict[str, Any]] = [
            {
                "code": str(self.status),
                "messageType": "Error",
                "text": self.message,
                "timestamp": timestamp,
            }
        ]
        for violation in self.violations:
            messages.append(
                {
                    "code": str(self.status),
                    "messageType": "Error",
                    "text": str(violation),
                    "timestamp": timestamp,
                }
            )
        return {"messages": messages}


@dataclass
class BadRequest(TitanError):
    status: int = 400
    code: str = "BadRequest"


@dataclass
class InvalidModel(BadRequest):
    """The body parsed as JSON but is not a valid AAS meta-model object."""

    code: str = "InvalidModel"


@dataclass
class Unauthorized(TitanError):
    status: int = 401
    code: str = "Unauthorized"


@dataclass
class Forbidden(TitanError):
    status: int = 403
    code: str = "Forbidden"


@dataclass
class NotFound(TitanError):
    status: int = 404
    code: str = "NotFound"


@dataclass
class MethodNotAllowed(TitanError):
    status: int = 405
    code: str = "MethodNotAllowed"


@dataclass
class Conflict(TitanError):
    status: int = 409
    code: str = "Conflict"


@dataclass
class Gone(TitanError):
    status: int = 410
    code: str = "Gone"


@dataclass
class NotAcceptable(TitanError):
    status: int = 406
    code: str = "NotAcceptable"


@dataclass
class PreconditionFailed(TitanError):
    status: int = 412
    code: str = "PreconditionFailed"


@dataclass
class PayloadTooLarge(TitanError):
    status: int = 413
    code: str = "PayloadTooLarge"


@dataclass
class UnsupportedMediaType(TitanError):
    status: int = 415
    code: str = "UnsupportedMediaType"


@dataclass
class ServiceUnavailable(TitanError):
    """Titan cannot serve the request now (its database is away); the client should retry later.

    Answered with `Retry-After: retry_after_s`.
    """

    status: int = 503
    code: str = "ServiceUnavailable"
    retry_after_s: int = 2


@dataclass
class NotImplementedYet(TitanError):
    """A spec route Titan knows but does not serve (Operations, for now)."""

    status: int = 501
    code: str = "NotImplemented"
