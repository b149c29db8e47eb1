"""The saga log in PostgreSQL (table booking_sagas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from booking_service.adapters.errors import constraint_of
from booking_service.adapters.tables import booking_sagas
from booking_service.domain.errors import Contention
from booking_service.observability.metrics import (
    SAGA_COMPENSATIONS,
    SAGA_HANDOFFS,
    SAGA_RECOVERIES,
    SAGA_STEPS,
)
from booking_service.service_layer.sagas.log import COMPENSATED, RUNNING, Saga, SagaLog, SagaTakenOver

_s = booking_sagas.c
_before = booking_sagas.alias("saga_before")  # the row as it was: tells a new step from a hand-off

# Built once; each call passes only parameters (see idempotency_store.py). A save lands only while
# the saga is still this process's (the fencing counter `attempts`) and still running.
_INSERT = insert(booking_sagas)
_SAVE = (
    update(booking_sagas)
    .where(_s.saga_id == bindparam("_saga_id"), _s.attempts == bindparam("_attempts"), _s.status == RUNNING)
    .where(_before.c.saga_id == _s.saga_id)
    .returning(_before.c.step)
)


class SqlAlchemySagaLog(SagaLog):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, saga: Saga) -> None:
        try:
            await self._insert(saga)
        except IntegrityError as exc:
            if constraint_of(exc) == "booking_sagas_one_change":
                raise Contention(
                    f"Another change to booking {saga.booking_id} is in progress; retry shortly.",
                    {"booking_id": saga.booking_id},
                ) from exc
            raise
        SAGA_STEPS.labels(saga.kind, saga.step).inc()  # when written (before the commit, as in save)

    async def _insert(self, saga: Saga) -> None:
        await self._conn.execute(
            _INSERT,
            {
                "saga_id": saga.saga_id,
                "booking_id": saga.booking_id,
                "kind": saga.kind,
                "status": saga.status,
                "step": saga.step,
                "data": saga.data,
                "attempts": saga.attempts,
                "error": saga.error,
                "lease_until": saga.lease_until,
                "created_at": saga.created_at,
                "updated_at": saga.created_at,
            },
        )

    async def save(self, saga: Saga, now: datetime) -> None:
        result = await self._conn.execute(
            _SAVE,
            {
                "_saga_id": saga.saga_id,
                "_attempts": saga.attempts,
                "status": saga.status,
                "step": saga.step,
                "data": saga.data,
                "error": saga.error,
                "lease_until": saga.lease_until,
                "updated_at": now,
            },
        )
        step_before = result.scalar_one_or_none()
        if step_before is None:
            raise SagaTakenOver(saga.saga_id)
        _count(saga, step_before)

    async def take_over_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Saga]:
        due = (
            select(_s.saga_id)
            .where(_s.status == RUNNING, _s.lease_until <= now)
            .order_by(_s.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self._conn.execute(
            update(booking_sagas)
            .where(_s.saga_id.in_(due))
            .values(attempts=_s.attempts + 1, lease_until=lease_until, updated_at=now)
            .returning(booking_sagas)
        )
        sagas = [_saga(row) for row in rows.mappings()]
        for saga in sagas:
            SAGA_RECOVERIES.labels(saga.kind).inc()
        return sagas


def _count(saga: Saga, step_before: str) -> None:
    """A running saga saved at a new step made progress; at the same step, it was handed to the
    recovery worker (steps.hand_to_recovery). A compensated one was undone."""
    if saga.status == COMPENSATED:
        SAGA_COMPENSATIONS.labels(saga.kind).inc()
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
