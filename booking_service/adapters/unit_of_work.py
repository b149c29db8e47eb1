"""The unit of work on PostgreSQL: one connection and one transaction per `async with`."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from booking_service.adapters import outbox
from booking_service.adapters.errors import translate
from booking_service.adapters.idempotency_store import SqlAlchemyIdempotencyStore
from booking_service.adapters.repository import SqlAlchemyBookingRepository
from booking_service.adapters.saga_log import SqlAlchemySagaLog
from booking_service.domain.errors import StorageUnavailable
from booking_service.domain.events import Event
from booking_service.domain.model import Booking
from booking_service.service_layer.unit_of_work import UnitOfWork


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Re-enterable: each `async with` takes a pooled connection, begins, and on exit rolls back
    whatever was not committed and gives the connection back. Database failures a client can act
    on leave as domain errors (Contention, StorageUnavailable)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        try:
            self._conn = await self._engine.connect()
            await self._conn.begin()
        except Exception as exc:
            await self._close()
            raise (translate(exc) or StorageUnavailable("The booking database is unavailable.")) from exc
        self.bookings = SqlAlchemyBookingRepository(self._conn)
        self.idempotency = SqlAlchemyIdempotencyStore(self._conn)
        self.sagas = SqlAlchemySagaLog(self._conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self._close()
        if exc is not None and (domain_error := translate(exc)) is not None:
            raise domain_error from exc

    async def _store_events(self, raised: list[tuple[Event, Booking]]) -> None:
        assert self._conn is not None, "commit outside `async with uow`"
        await outbox.write(self._conn, raised)

    async def _commit(self) -> None:
        assert self._conn is not None, "commit outside `async with uow`"
        await self._conn.commit()

    async def rollback(self) -> None:
        if self._conn is not None and self._conn.in_transaction():
            await self._conn.rollback()

    async def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
