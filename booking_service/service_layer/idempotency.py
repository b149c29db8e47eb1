"""Idempotency keys with Stripe's semantics, scoped to the method and the caller.

A key belongs to whoever sent it, as Stripe's belong to an account: the scope is the method and the
authenticated caller (`CreateBooking|<subject>`), so another caller's key neither refuses a request
nor replays someone else's answer. In an open service (no tokens, no client certificates) the
`x-actor` header is the caller's own claim, not an identity: every caller is one, and the scope is
the method alone.

Same key and same request: the first answer again, nothing done twice. Same key and another
request: IDEMPOTENCY_KEY_REUSED. The key is claimed inside the use case's own transaction, so a
concurrent request with the same key waits for the first to end, then replays its answer (or, if
the first failed and stored nothing, runs itself). Requests that fail store nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from booking_service.domain import erasure
from booking_service.domain.commands import Command
from booking_service.domain.errors import IdempotencyKeyInProgress, IdempotencyKeyReused
from booking_service.domain.group import BookingGroup
from booking_service.domain.model import Booking
from booking_service.service_layer.context import Context
from booking_service.service_layer.sagas.log import Saga
from booking_service.service_layer.unit_of_work import StoredKey, UnitOfWork

#: Fields that do not make two requests different.
_NOT_FINGERPRINTED = frozenset({"actor", "caller", "idempotency_key", "unreadable"})


def scope_of(method: str, command: Command) -> str:
    """Where the command's key lives: the method, and the caller when there is an authenticated one."""
    return f"{method}|{command.caller}" if command.caller else method


def _method(scope: str) -> str:
    return scope.partition("|")[0]


def fingerprint(command: Command) -> bytes:
    """A digest of what the command asks for (its kind and every field but actor and key)."""
    return hashlib.sha256(_canonical(command).encode()).digest()


def erased_fingerprint(command: Command) -> bytes:
    """The digest of the command with the guest's personal data erased (domain/erasure.py): what a
    key's record keeps instead of `fingerprint` once the guest is erased, so that no digest of their
    data is left, and a retry of the same request with the key is still recognised (and replayed)."""
    kind, fields = json.loads(_canonical(command))
    erased = json.dumps([kind, erasure.erased_request(fields), erasure.MARKER], sort_keys=True)
    return hashlib.sha256(erased.encode()).digest()


def _canonical(command: Command) -> str:
    fields = {
        f.name: getattr(command, f.name)
        for f in dataclasses.fields(command)
        if f.name not in _NOT_FINGERPRINTED
    }
    return json.dumps([type(command).__name__, fields], default=_plain, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


async def claim(
    uow: UnitOfWork,
    scope: str,
    key: str,
    command: Command,
    now: datetime,
    ttl: timedelta,
    owner: str | None = None,
) -> Booking | None:
    """Claims the key for this unit of work (on behalf of the saga `owner`, if any), or returns the
    answer to replay; None without a key."""
    stored = await _claim(uow, scope, key, command, now, ttl, owner)
    return stored.response if stored is not None else None


async def claim_answer(
    uow: UnitOfWork, scope: str, key: str, command: Command, now: datetime, ttl: timedelta
) -> Mapping[str, Any] | None:
    """claim, for a call that answers neither a booking nor a group (its answer kept as JSON)."""
    stored = await _claim(uow, scope, key, command, now, ttl)
    return stored.answer if stored is not None else None


async def claim_group(
    uow: UnitOfWork, scope: str, key: str, command: Command, now: datetime, ttl: timedelta
) -> BookingGroup | None:
    """claim, for a call that answers a booking group."""
    stored = await _claim(uow, scope, key, command, now, ttl)
    return stored.group if stored is not None else None


async def _claim(
    uow: UnitOfWork,
    scope: str,
    key: str,
    command: Command,
    now: datetime,
    ttl: timedelta,
    owner: str | None = None,
) -> StoredKey | None:
    """The stored answer to replay, or None once the key is this unit of work's (or there is none)."""
    if not key:
        return None
    digest, erased = fingerprint(command), erased_fingerprint(command)
    stored = await uow.idempotency.claim(scope, key, digest, now, ttl, owner, erased_fingerprint=erased)
    if stored is None:
        return None
    if stored.fingerprint not in (digest, erased):  # erased: the guest's data was erased since
        raise IdempotencyKeyReused(
            f"Idempotency key {key!r} was already used for a different {_method(scope)} request; "
            "use a new key for a new request.",
            {"idempotency_key": key, "method": _method(scope)},
        )
    if stored.response is None and stored.group is None and stored.answer is None:
        raise IdempotencyKeyInProgress(
            f"A {_method(scope)} request with idempotency key {key!r} is still in progress; retry shortly.",
            {"idempotency_key": key, "method": _method(scope)},
        )
    return stored


async def complete(
    uow: UnitOfWork, scope: str, key: str, answer: Booking | BookingGroup | Mapping[str, Any]
) -> None:
    if key:
        await uow.idempotency.complete(scope, key, answer)


#: How long a request waits for an earlier request with its key to finish before it gives up.
IN_PROGRESS_WAIT_SECONDS = 10.0

T = TypeVar("T")


async def patiently(attempt: Callable[[], Awaitable[T]]) -> T:
    """Runs `attempt` (a transaction that claims a key) again while it meets an earlier request with
    the key still running, for up to IN_PROGRESS_WAIT_SECONDS; then that request's answer is
    replayed, or this one runs if that one failed and released the key."""
    deadline = time.monotonic() + IN_PROGRESS_WAIT_SECONDS
    while True:
        try:
            return await attempt()
        except IdempotencyKeyInProgress:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


async def begin(
    ctx: Context,
    scope: str,
    key: str,
    command: Command,
    *,
    saga: Saga | None = None,
    check: Callable[[UnitOfWork], Awaitable[None]] | None = None,
) -> Booking | None:
    """Claims the key in a transaction of its own, for use cases that call peers between
    transactions. Returns the answer to replay, or None when this request owns the key; while an
    earlier request with the key is running, waits for it (then replays, or owns the key if that
    one failed and released it). `saga`, the saga the request is about to run, is written in the
    same transaction when the request owns the key (one round of BEGIN/COMMIT, not two). `check`
    runs in that transaction too, after the key is this request's (a replay is never refused): if
    it raises, nothing is kept, neither the key nor the saga. Without a key, only the saga is
    written (and `check` run)."""
    return await _begin(ctx, scope, key, command, saga, check, lambda stored: stored.response)


async def begin_group(
    ctx: Context,
    scope: str,
    key: str,
    command: Command,
    *,
    saga: Saga | None = None,
    check: Callable[[UnitOfWork], Awaitable[None]] | None = None,
) -> BookingGroup | None:
    """begin, for a call that answers a booking group."""
    return await _begin(ctx, scope, key, command, saga, check, lambda stored: stored.group)


async def _begin(
    ctx: Context,
    scope: str,
    key: str,
    command: Command,
    saga: Saga | None,
    check: Callable[[UnitOfWork], Awaitable[None]] | None,
    answer: Callable[[StoredKey], T | None],
) -> T | None:
    if not key and saga is None and check is None:
        return None

    async def attempt() -> T | None:
        uow = ctx.uow()
        async with uow:
            owner = saga.saga_id if saga is not None else None
            ttl = ctx.policy.idempotency_ttl
            stored = await _claim(uow, scope, key, command, ctx.clock(), ttl, owner)
            if stored is None and check is not None:
                await check(uow)
            if stored is None and saga is not None:
                await uow.sagas.add(saga)
            await uow.commit()
            return answer(stored) if stored is not None else None

    return await patiently(attempt)


async def abandon(ctx: Context, scope: str, key: str, saga: Saga) -> None:
    """Forgets the key the saga's request claimed and that failed (it stored nothing, so a retry
    runs afresh); a stored answer, or a later request's claim, stays."""
    if not key:
        return
    uow = ctx.uow()
    async with uow:
        await uow.idempotency.release(scope, key, saga.saga_id)
        await uow.commit()
