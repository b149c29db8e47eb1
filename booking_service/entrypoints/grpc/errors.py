"""The one table from domain errors to gRPC status codes, and the rich status (AIP-193) sent.

Every error leaves as a google.rpc.Status: the canonical code, a message a person can act on, an
ErrorInfo (stable reason, domain, metadata such as the current version) and, for invalid input, a
BadRequest listing every violated field. The REST shim maps these codes on to HTTP statuses.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from booking_service.domain import errors
from booking_service.entrypoints.auth.refusal import CallRefused

ERROR_DOMAIN = "booking-service"

#: Domain error -> gRPC code. The first matching class (in method resolution order) wins.
ERROR_CODES: dict[type[errors.BookingError], grpc.StatusCode] = {
    errors.ValidationFailed: grpc.StatusCode.INVALID_ARGUMENT,
    errors.VenueZoneConflict: grpc.StatusCode.INVALID_ARGUMENT,
    errors.InvalidPageToken: grpc.StatusCode.INVALID_ARGUMENT,
    errors.IdempotencyKeyReused: grpc.StatusCode.INVALID_ARGUMENT,
    errors.BookingNotFound: grpc.StatusCode.NOT_FOUND,
    errors.GroupNotFound: grpc.StatusCode.NOT_FOUND,
    errors.UnitUnavailable: grpc.StatusCode.ALREADY_EXISTS,
    errors.VersionMismatch: grpc.StatusCode.ABORTED,
    errors.PolicyVersionMismatch: grpc.StatusCode.ABORTED,
    errors.GroupVersionMismatch: grpc.StatusCode.ABORTED,
    errors.IdempotencyKeyInProgress: grpc.StatusCode.ABORTED,
    errors.Contention: grpc.StatusCode.ABORTED,
    errors.InvalidTransition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.PaymentRequired: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TransitionTooEarly: grpc.StatusCode.FAILED_PRECONDITION,
    errors.BookingClosed: grpc.StatusCode.FAILED_PRECONDITION,
    errors.AwaitingOperator: grpc.StatusCode.FAILED_PRECONDITION,
    errors.StorageUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.SoldOut: grpc.StatusCode.FAILED_PRECONDITION,
    errors.PaymentDeclined: grpc.StatusCode.FAILED_PRECONDITION,
    errors.PriceChanged: grpc.StatusCode.FAILED_PRECONDITION,
    errors.PeerRejected: grpc.StatusCode.INTERNAL,
    errors.PeerUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.WatchPositionPurged: grpc.StatusCode.OUT_OF_RANGE,
    errors.WatcherTooSlow: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.TooManyWatchers: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.WatchClosed: grpc.StatusCode.UNAVAILABLE,
}


def code_for(error: errors.BookingError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in ERROR_CODES:
            return ERROR_CODES[cls]
    return grpc.StatusCode.INTERNAL


def rich_status(
    code: grpc.StatusCode, message: str, reason: str, metadata: dict[str, str]
) -> status_pb2.Status:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata))
    return status_pb2.Status(code=code.value[0], message=message, details=[info])


def status_of(error: errors.BookingError) -> status_pb2.Status:
    status = rich_status(code_for(error), error.message, error.reason, error.metadata)
    if isinstance(error, errors.ValidationFailed):
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
        status.details.append(bad_request)
    return status


def internal_status(request_id: str) -> status_pb2.Status:
    return rich_status(
        grpc.StatusCode.INTERNAL,
        f"Internal error in the booking service; quote request id {request_id} when reporting it.",
        "INTERNAL",
        {"request_id": request_id},
    )


def refusal_status(refusal: CallRefused) -> status_pb2.Status:
    """A call refused before it ran; with RetryInfo when waiting helps (REST turns it into Retry-After)."""
    status = rich_status(refusal.code, refusal.message, refusal.reason, refusal.metadata)
    if refusal.retry_after is not None:
        retry = any_pb2.Any()
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(1, round(refusal.retry_after * 1e9)))
        retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(retry)
    return status
