"""A stream lives no longer than the credential that opened it.

A call is admitted once, when it starts; a server-streaming call (WatchBookings) may stay open for
hours. Without a bound, a stream opened by a token would go on delivering after the token expired,
when the same token on a new call is refused. So every server-streaming call whose caller's
credential expires (Caller.expires_at: a token's `exp` plus the verifier's leeway) ends at that
moment with the refusal a new call would get: UNAUTHENTICATED `TOKEN_EXPIRED`. The interceptor
(grpc/interceptors.py) applies it on the one path both transports take, so the REST gateway's
server-sent events end with it too (as their last `event: error`). A client reconnects with a fresh
token and resumes from the last position it received.

Callers whose credential does not expire (no token configured: `x-actor`, client certificates, or
none) stream as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TypeVar

from booking_service.entrypoints.auth.caller import Caller
from booking_service.entrypoints.auth.tokens import token_expired

T = TypeVar("T")


async def within_lifetime(caller: Caller, messages: AsyncIterator[T]) -> AsyncIterator[T]:
    """`messages` until they end or the caller's credential expires: then CallRefused
    (UNAUTHENTICATED, TOKEN_EXPIRED), after the wait for the next message is cancelled (and
    `messages` closed), even on a stream with nothing to send."""
    if caller.expires_at is None:
        async for message in messages:
            yield message
        return
    loop = asyncio.get_running_loop()
    # exp is wall-clock time; the wait is measured on the loop's monotonic clock from now on.
    deadline = loop.time() + (caller.expires_at - time.time())
    try:
        while True:
            if loop.time() >= deadline:
                raise token_expired()
            timeout = asyncio.timeout_at(deadline)
            try:
                async with timeout:
                    message = await anext(messages)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if timeout.expired():
                    raise token_expired() from None
                raise
            if loop.time() >= deadline:  # arrived as the token expired: not delivered
                raise token_expired()
            yield message
    finally:
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            await aclose()
