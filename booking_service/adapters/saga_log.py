"""The saga log in PostgreSQL (table booking_sagas)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from booking_service.adapters.driver import DriverSession, columns, insert_sql
from booking_service.adapters.errors import constraint_of
from booking_service.adapters.tables import booking_sagas
from booking_service.domain.errors import Contention
from booking_service.observability.metrics import (
    SAGA_COMPENSATIONS,
    SAGA_HANDOFFS,
    SAGA_RECOVERIES,
    SAGA_STEPS,
    SAGAS_NEEDING_ATTENTION,
)
from booking_service.service_layer.sagas.log import (
    COMPENSATED,
    DONE,
    NEEDS_ATTENTION,
    RESOLVED,
    RUNNING,
    Saga,
    SagaLog,
    SagaTakenOver,
)

# Statements on the driver (see driver.py); jsonb goes in as JSON text and comes out decoded. A save
# lands only while the saga is still this process's (the fencing counter `attempts`) and still
# running; it returns the step the row had before (a new step, or a hand-off at the same step).
_COLUMNS = columns(booking_sagas)
_INSERT = insert_sql(booking_sagas, _COLUMNS)
_SAVE = (
    "UPDATE booking_sagas s SET status = $3, step = $4, data = $5, error = $6, lease_until = $7,"
    " updated_at = $8 FROM booking_sagas saga_before"
    f" WHERE s.saga_id = $1 AND s.attempts = $2 AND s.status = '{RUNNING}'"
    " AND saga_before.saga_id = s.saga_id RETURNING saga_before.step"
)
#: _SAVE for a saga that ends (done, compensated, needs attention), which also lets go of its
#: booking (clears bookings.saga_id, where it still names this saga) in the same round trip: one
#: statement instead of two at the end of every create (bench/run.py --profile CreateBooking).
#: The let-go runs only if the save landed (the EXISTS on `saved`).
_SAVE_AND_LET_GO = (
    "WITH saved AS (" + _SAVE + "), let_go AS (UPDATE bookings SET saga_id = NULL"
    " WHERE booking_id = $9 AND saga_id = $1::uuid AND EXISTS (SELECT 1 FROM saved))"
    " SELECT step FROM saved"
)
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM booking_sagas WHERE "
_GET = _SELECT + "saga_id = $1::uuid"
# FOR SHARE waits for a transaction that is writing the row (a saga's finishing transaction whose
# COMMIT may still be on its way) to end, and then reads the row as that transaction left it.
_GET_SETTLED = _GET + " FOR SHARE"
_LIST = _SELECT + "status = ANY($1::text[]) ORDER BY updated_at DESC LIMIT $2"
_UNFINISHED_CREATES = (
    _SELECT + f"kind IN ('create', 'group_create') AND status <> '{DONE}' AND created_at >= $1"
    " ORDER BY created_at LIMIT $2"
)
_LIST_BOOKING = (
    _SELECT + "status = ANY($1::text[]) AND booking_id = $3::uuid ORDER BY updated_at DESC LIMIT $2"
)
# Back to running with a fresh budget (attempts counts take-overs, and is also the fencing token: it
# rises, so an owner from before cannot write).
_REOPEN = (
    f"UPDATE booking_sagas SET status = '{RUNNING}', lease_until = $2, updated_at = $2,"
    " attempts = attempts + 1, data = data || jsonb_build_object('budget_from', attempts + 1)"
    f" WHERE saga_id = $1::uuid AND status = '{NEEDS_ATTENTION}' RETURNING attempts"
)
_RESOLVE = (
    f"UPDATE booking_sagas SET status = '{RESOLVED}', updated_at = $2, error = $3"
    f" WHERE saga_id = $1::uuid AND status = '{NEEDS_ATTENTION}' RETURNING saga_id"
)
_TAKE_OVER_DUE = (
    "UPDATE booking_sagas SET attempts = attempts + 1, lease_until = $2, updated_at = $1"
    " WHERE saga_id IN (SELECT saga_id FROM booking_sagas"
    f" WHERE status = '{RUNNING}' AND lease_until <= $1 ORDER BY lease_until LIMIT $3"
    " FOR UPDATE SKIP LOCKED) RETURNING " + ", ".join(_COLUMNS)
)


class PostgresSagaLog(SagaLog):
    def __init__(self, session: DriverSession) -> None:
        self._db = session

    async def add(self, saga: Saga) -> None:
        try:
            await self._insert(saga)
        except asyncpg.UniqueViolationError as exc:
            if constraint_of(exc) == "booking_sagas_one_change":
                raise Contention(
                    f"Another change to booking {saga.booking_id} is in progress; retry shortly.",
                    {"booking_id": saga.booking_id},
                ) from exc
            raise
        SAGA_STEPS.labels(saga.kind, saga.step).inc()  # when written (before the commit, as in save)

    async def _insert(self, saga: Saga) -> None:
        row: dict[str, Any] = {
            "saga_id": saga.saga_id,
            "booking_id": saga.booking_id,
            "kind": saga.kind,
            "status": saga.status,
            "step": saga.step,
            "data": json.dumps(saga.data),
            "attempts": saga.attempts,
            "error": saga.error,
            "lease_until": saga.lease_until,
            "created_at": saga.created_at,
            "updated_at": saga.created_at,
        }
        await self._db.execute(_INSERT, *(row[name] for name in _COLUMNS))

    async def save(self, saga: Saga, now: datetime) -> None:
        arguments = [
            saga.saga_id,
            saga.attempts,
            saga.status,
            saga.step,
            json.dumps(saga.data),
            saga.error,
            saga.lease_until,
            now,
        ]
        if saga.status == RUNNING:
            found = await self._db.fetchrow(_SAVE, *arguments)
        else:  # it ends: its booking is let go in the same statement
            found = await self._db.fetchrow(_SAVE_AND_LET_GO, *arguments, saga.booking_id)
        if found is None:
            raise SagaTakenOver(saga.saga_id)
        _count(saga, found["step"])

    async def get(self, saga_id: str, *, settled: bool = False) -> Saga | None:
        row = await self._db.fetchrow(_GET_SETTLED if settled else _GET, saga_id)
        return _saga(row) if row is not None else None

    async def listing(self, statuses: tuple[str, ...], booking_id: str | None, limit: int) -> list[Saga]:
        if booking_id is None:
            rows = await self._db.fetch(_LIST, list(statuses), limit)
        else:
            rows = await self._db.fetch(_LIST_BOOKING, list(statuses), limit, booking_id)
        return [_saga(row) for row in rows]

    async def unfinished_creates(self, since: datetime, limit: int) -> list[Saga]:
        return [_saga(row) for row in await self._db.fetch(_UNFINISHED_CREATES, since, limit)]

    async def reopen(self, saga: Saga, now: datetime) -> None:
        found = await self._db.fetchrow(_REOPEN, saga.saga_id, now)
        if found is None:
            raise SagaTakenOver(saga.saga_id)
        saga.status, saga.lease_until, saga.attempts = RUNNING, now, found["attempts"]
        saga.data["budget_from"] = found["attempts"]

    async def resolve(self, saga: Saga, note: str, now: datetime) -> None:
        error = f"{saga.error} | resolved: {note}"[:1000]
        if await self._db.fetchrow(_RESOLVE, saga.saga_id, now, error) is None:
            raise SagaTakenOver(saga.saga_id)
        saga.status, saga.error = RESOLVED, error

    async def take_over_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Saga]:
        sagas = [_saga(row) for row in await self._db.fetch(_TAKE_OVER_DUE, now, lease_until, limit)]
        for saga in sagas:
            SAGA_RECOVERIES.labels(saga.kind).inc()
        return sagas


def _count(saga: Saga, step_before: str) -> None:
    """A running saga saved at a new step made progress; at the same step, it was handed to the
    recovery worker (steps.hand_to_recovery). A compensated one was undone."""
    if saga.status == COMPENSATED:
        SAGA_COMPENSATIONS.labels(saga.kind).inc()
    elif saga.status == NEEDS_ATTENTION:
        SAGAS_NEEDING_ATTENTION.labels(saga.kind).inc()
    elif saga.status == RUNNING:
        if saga.step != step_before:
            SAGA_STEPS.labels(saga.kind, saga.step).inc()
        else:
            SAGA_HANDOFFS.labels(saga.kind).inc()


def _saga(row: Any) -> Saga:
    return Saga(
        saga_id=str(row["saga_id"]),
        booking_id=str(row["booking_id"]),
        kind=row["kind"],
        lease_until=row["lease_until"],
        created_at=row["created_at"],
        status=row["status"],
        step=row["step"],
        data=dict(row["data"]),
        attempts=row["attempts"],
        error=row["error"],
    )
