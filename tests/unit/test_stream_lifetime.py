"""auth/lifetime.py: a stream ends when the credential that opened it expires, and only then."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from booking_service.entrypoints.auth.caller import ALL_SCOPES, Caller
from booking_service.entrypoints.auth.lifetime import within_lifetime
from booking_service.entrypoints.auth.refusal import CallRefused


def caller(expires_in: float | None) -> Caller:
    expires_at = None if expires_in is None else time.time() + expires_in
    return Caller("svc", ALL_SCOPES, authenticated=True, expires_at=expires_at)


class Ticks:
    """A stream that yields a number every `every` s, forever, and records that it was closed."""

    def __init__(self, every: float, fail: BaseException | None = None) -> None:
        self.every, self.fail, self.closed = every, fail, False

    async def __call__(self) -> AsyncIterator[int]:
        try:
            n = 0
            while True:
                await asyncio.sleep(self.every)
                if self.fail is not None:
                    raise self.fail
                n += 1
                yield n
        finally:
            self.closed = True


async def drain(stream: AsyncIterator[int], into: list[int]) -> None:
    async for n in stream:
        into.append(n)


async def test_a_stream_ends_token_expired_at_the_expiry_even_while_idle() -> None:
    ticks = Ticks(every=10)  # nothing to send before the token expires
    started = time.monotonic()
    with pytest.raises(CallRefused) as refused:
        async for _ in within_lifetime(caller(0.2), ticks()):
            pass
    assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_EXPIRED")
    assert 0.15 < time.monotonic() - started < 2
    assert ticks.closed


async def test_messages_flow_until_the_expiry() -> None:
    got: list[int] = []
    with pytest.raises(CallRefused):
        await drain(within_lifetime(caller(0.35), Ticks(every=0.1)()), got)
    assert got[:2] == [1, 2]
    assert len(got) <= 4


async def test_an_expired_credential_sends_nothing() -> None:
    got: list[int] = []
    with pytest.raises(CallRefused):
        await drain(within_lifetime(caller(-1), Ticks(every=0)()), got)
    assert got == []


async def test_a_credential_without_expiry_does_not_bound_the_stream() -> None:
    got = []
    async for n in within_lifetime(caller(None), Ticks(every=0.01)()):
        got.append(n)
        if n == 20:
            break
    assert got == list(range(1, 21))


async def test_the_streams_own_timeout_is_not_taken_for_the_expiry() -> None:
    with pytest.raises(TimeoutError):
        async for _ in within_lifetime(caller(60), Ticks(every=0.01, fail=TimeoutError())()):
            pass
