"""Every domain error has a canonical code from the one table; none is a 500-style code."""

from __future__ import annotations

import grpc
import pytest

from booking_service.domain import errors
from booking_service.entrypoints.grpc.errors import ERROR_CODES, code_for


def all_errors() -> list[type[errors.BookingError]]:
    found, todo = [], [errors.BookingError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in found if cls is not errors.BookingError]


@pytest.mark.parametrize("error", all_errors(), ids=lambda cls: cls.__name__)
def test_every_domain_error_has_a_client_facing_code(error: type[errors.BookingError]) -> None:
    """Each error of the domain is in the table; a subclass made elsewhere (an adapter's finer kind,
    such as a peer call out of the caller's deadline) has its base's code, found along its MRO."""
    if error.__module__ == errors.__name__:
        assert error in ERROR_CODES
    code = next(ERROR_CODES[cls] for cls in error.__mro__ if cls in ERROR_CODES)
    if error is not errors.PeerRejected:  # our own request refused by a peer: a bug, not the caller's
        assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
    assert error.reason.isupper()


def test_the_codes_of_the_design() -> None:
    assert code_for(errors.BookingNotFound("x")) is grpc.StatusCode.NOT_FOUND
    assert code_for(errors.VersionMismatch("b", 1, 2)) is grpc.StatusCode.ABORTED
    assert code_for(errors.InvalidTransition("x")) is grpc.StatusCode.FAILED_PRECONDITION
    assert code_for(errors.IdempotencyKeyReused("x")) is grpc.StatusCode.INVALID_ARGUMENT
    assert code_for(errors.ValidationFailed([])) is grpc.StatusCode.INVALID_ARGUMENT
