"""The whole error tree in one place; `api/errors.py` maps it to problem+json once.

Every error a user can cause has a status below 500 and a message that says what to do.
"""

from __future__ import annotations

from typing import Any


class VmsError(Exception):
    """Base of every error the platform raises on purpose."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class BadRequest(VmsError):
    """The request is malformed in a way validation could not express."""

    status = 400
    title = "Bad request"


class ValidationFailed(VmsError):
    """A value breaks a rule (bounds, policy, format)."""

    status = 422
    title = "Validation failed"


class Unauthenticated(VmsError):
    """No valid credentials: missing, expired, tampered or revoked."""

    status = 401
    title = "Authentication required"


class InvalidCredentials(Unauthenticated):
    """Wrong email, password or MFA code (never says which, so accounts cannot be probed)."""

    title = "Invalid credentials"


class Forbidden(VmsError):
    """Authenticated, but this role or network may not do this."""

    status = 403
    title = "Forbidden"


class LicenseExpired(Forbidden):
    """The customer's license is outside its validity window."""

    title = "License expired"


class ModelNotLicensed(Forbidden):
    """The customer has not purchased this AI model."""

    title = "AI model not licensed"


class ModelIncompatible(ValidationFailed):
    """A camera's streams fall short of what an AI model needs (resolution, bitrate)."""

    title = "AI model incompatible with the camera"


class StreamProblem(VmsError):
    """A camera stream cannot be used as given; the message says what to fix (URL, credentials, camera)."""

    status = 422
    title = "Stream problem"


class StreamUnreachable(StreamProblem):
    """Nothing answered: connection refused, timed out, unknown host, or no stream at that path."""

    title = "Stream unreachable"


class StreamCredentialsRefused(StreamProblem):
    """The camera answered 401/403 to the credentials it was given."""

    title = "Camera refused the credentials"


class NotAMediaStream(StreamProblem):
    """The URL answers, but with something that is not (decodable) video."""

    title = "Not a media stream"


class UnsupportedCodec(StreamProblem):
    """The stream is video in a codec the platform does not process (only H.264, H.265, MJPEG)."""

    title = "Unsupported codec"


class DeviceProblem(VmsError):
    """A camera's control interface (ONVIF, ISAPI, Dahua HTTP) cannot be used as asked; the message says why."""

    status = 422
    title = "Camera device problem"


class DeviceUnreachable(DeviceProblem):
    """Nothing answered at the device address: refused, timed out, unknown host."""

    title = "Camera device unreachable"


class DeviceCredentialsRefused(DeviceProblem):
    """The device answered 401/403 or an ONVIF NotAuthorized fault to the credentials it was given."""

    title = "Camera device refused the credentials"


class DeviceProtocolError(DeviceProblem):
    """The device answered, but with something that is not the protocol we spoke (garbage SOAP, HTML, a fault)."""

    title = "Camera device answered something unreadable"


class DeviceUnsupported(DeviceProblem):
    """The device does not offer what was asked (no PTZ, no recording search, no such preset)."""

    title = "Not supported by the camera"


class CorruptVideo(VmsError):
    """Video data that does not decode (truncated upload, garbage bytes, broken segment)."""

    status = 422
    title = "Corrupt video"


class NotFound(VmsError):
    """The resource does not exist or belongs to another tenant (indistinguishable on purpose)."""

    status = 404
    title = "Not found"


class Conflict(VmsError):
    """The request conflicts with the current state (duplicate, limit reached)."""

    status = 409
    title = "Conflict"


class LicenseLimitReached(Conflict):
    """The customer's license allows no more of this resource."""

    title = "License limit reached"


class PayloadTooLarge(VmsError):
    """The request body is over the configured limit."""

    status = 413
    title = "Payload too large"


class AccountLocked(VmsError):
    """Too many failed sign-ins; the account is locked for a while."""

    status = 423
    title = "Account temporarily locked"


class RateLimited(VmsError):
    """Too many requests in the current window."""

    status = 429
    title = "Too many requests"


class ServiceUnavailable(VmsError):
    """A dependency is down or a circuit breaker is open; retry later."""

    status = 503
    title = "Service unavailable"


class CircuitOpen(ServiceUnavailable):
    """Outbound calls to a failing dependency are paused by its circuit breaker."""

    title = "Dependency circuit open"


class TicketingProblem(VmsError):
    """A customer's ticket system (ServiceNow, Jira) cannot be used as configured; the message says why."""

    status = 422
    title = "Ticket system problem"


class TicketingCredentialsRefused(TicketingProblem):
    """The ticket system answered 401/403 to the configured credentials."""

    title = "Ticket system refused the credentials"


class TicketingRejected(TicketingProblem):
    """The ticket system refused the ticket itself (a required field, an unknown project or priority)."""

    title = "Ticket system rejected the ticket"


class TicketingUnreachable(TicketingProblem):
    """A connection test found no ticket system answering at the configured address."""

    title = "Ticket system unreachable"


class TicketingUnavailable(ServiceUnavailable):
    """The ticket system did not answer, or kept answering 5xx/429 through every retry."""

    title = "Ticket system unavailable"
