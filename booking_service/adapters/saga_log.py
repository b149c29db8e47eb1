"""The saga log in PostgreSQL (table booking_sagas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from booking_service.adapters.errors import constraint_of
from booking_service.adapters.tables import booking_sagas
from booking_service.domain.errors import Contention
from booking_service.service_layer.sagas.log import RUNNING, Saga, SagaLog, SagaTakenOver

_s = booking_sagas.c


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

    async def _insert(self, saga: Saga) -> None:
        await self._conn.execute(
            insert(booking_sagas).values(
                saga_id=saga.saga_id,
                booking_id=saga.booking_id,
                kind=saga.kind,
                status=saga.status,
                step=saga.step,
                data=saga.data,
                attempts=saga.attempts,
                error=saga.error,
                lease_until=saga.lease_until,
                created_at=saga.created_at,
                updated_at=saga.created_at,
            )
        )

    async def save(self, saga: Saga, now: datetime) -> None:
        result = await self._conn.execute(
            update(booking_sagas)
            .where(_s.saga_id == saga.saga_id, _s.attempts == saga.attempts, _s.status == RUNNING)
            .values(
                status=saga.status,
                step=saga.step,
                data=saga.data,
                error=saga.error,
                lease_until=saga.lease_until,
                updated_at=now,
            )
        )
        if result.rowcount != 1:
            raise SagaTakenOver(saga.saga_id)

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
        return [_saga(row) for row in rows.mappings()]


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
