"""A status the interceptor can no longer send (interceptors._abort): when the client's own deadline
ends a call at the moment the interceptor's does, or the client left before an error was ready,
grpc.aio refuses the abort. Seen from outside (an adversarial pass, grpcurl -max-time 0.5 against a
slow inventory): the access log said INTERNAL with an "unexpected error" traceback, then a second
error ("Abort already called!"). The call must end as cancelled instead, logged with the code it
ended with, and never counted INTERNAL."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
import pytest

from booking_service.domain.errors import BookingNotFound
from booking_service.entrypoints.grpc.interceptors import ServiceInterceptor


class CallOver(Exception):
    """What grpc.aio raises from abort once the call is finished (its ExecuteBatchError)."""


class FinishedCall:
    """A servicer context whose call the client's deadline (or departure) already finished."""

    def __init__(self, time_remaining: float | None = None) -> None:
        self._time_remaining = time_remaining
        self.aborts = 0

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:5555"

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass

    def auth_context(self) -> dict[str, Any]:
        return {}

    def time_remaining(self) -> float | None:
        return self._time_remaining

    def done(self) -> bool:
        return True

    def code(self) -> grpc.StatusCode | None:
        return None

    async def abort(self, *args: Any, **kwargs: Any) -> None:
        self.aborts += 1
        raise CallOver("Failed execute_batch")


def wrapped(behavior: Any) -> Any:
    return ServiceInterceptor()._unary("/booking.v1.BookingService/GetBooking", behavior)


async def slow(request: Any, context: Any) -> None:
    await asyncio.sleep(5)


async def not_found(request: Any, context: Any) -> None:
    raise BookingNotFound("There is no booking.", {})


@pytest.mark.parametrize(
    ("behavior", "time_remaining", "code"),
    [(slow, 0.05, "DEADLINE_EXCEEDED"), (not_found, None, "NOT_FOUND")],
    ids=["deadline", "error-after-the-client-left"],
)
async def test_a_status_no_longer_sendable_ends_the_call_as_cancelled_not_internal(
    behavior: Any, time_remaining: float | None, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    context = FinishedCall(time_remaining)
    caplog.set_level(logging.DEBUG, logger="booking_service.access")
    with pytest.raises(asyncio.CancelledError):
        await wrapped(behavior)(object(), context)
    assert context.aborts == 1  # tried once; no second abort
    records = [r for r in caplog.records if r.name == "booking_service.access"]
    assert [r.getMessage() for r in records] == ["rpc"]  # no "unexpected error"
    assert records[0].__dict__["code"] == code
