"""The unit of work on PostgreSQL: one connection of the request pool (connections.py) and one
transaction per `async with`, its statements run on the driver (driver.py)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from booking_service.adapters import outbox
from booking_service.adapters.connections import Connections
from booking_service.adapters.driver import DriverSession
from booking_service.adapters.erasure import PostgresGuestErasures
from booking_service.adapters.errors import translate, unavailable
from booking_service.adapters.groups import PostgresGroupRepository
from booking_service.adapters.idempotency_store import PostgresIdempotencyStore
from booking_service.adapters.repository import PostgresBookingRepository
from booking_service.adapters.saga_log import PostgresSagaLog
from booking_service.adapters.venue_policies import PostgresVenuePolicies
from booking_service.domain.events import Event, GuestContact
from booking_service.domain.model import Booking
from booking_service.service_layer.unit_of_work import UnitOfWork


class PostgresUnitOfWork(UnitOfWork):
    """Re-enterable: each `async with` takes a pooled connection, begins, and on exit rolls back
    whatever was not committed and gives the connection back (or drops it, if the failure took it:
    the server ended the session, or a statement was cut off half-way). Database failures a client
    can act on leave as domain errors (Contention, StorageUnavailable)."""

    def __init__(
        self,
        connections: Connections,
        *,
        per_transaction: str | None = None,
        guest_contact: GuestContact = GuestContact.OMIT,
    ) -> None:
        """`per_transaction`: statements run right after BEGIN (behind a transaction pooler, the
        limits as `SET LOCAL`: SessionLimits.per_transaction). `guest_contact`: whether the events
        it writes carry the guest's email and phone (EVENTS_GUEST_CONTACT; outbox.py)."""
        super().__init__()
        self._connections = connections
        self._per_transaction = per_transaction
        self._guest_contact = guest_contact
        self._pooled: Any = None  # the asyncpg connection while one is held
        self._session: DriverSession | None = None
        self._transaction: Any = None  # an asyncpg Transaction while one is open

    async def __aenter__(self) -> Self:
        try:
            self._pooled = driver = await self._connections.acquire()
            self._session = DriverSession(self._connections, driver)
            self._transaction = driver.transaction()
            await self._transaction.start()
            if self._per_transaction:
                await self._session.execute(self._per_transaction)
        except BaseException as exc:
            await self._close(invalidate=True)
            if not isinstance(exc, Exception):
                raise
            raise (translate(exc) or unavailable(exc)) from exc
        self.erasures = PostgresGuestErasures(self._session)
        self.bookings = PostgresBookingRepository(self._session, self.erasures)
        self.groups = PostgresGroupRepository(self._session, self.bookings, self.erasures)
        self.idempotency = PostgresIdempotencyStore(self._session)
        self.sagas = PostgresSagaLog(self._session)
        self.venue_policies = PostgresVenuePolicies(self._session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        broken = exc is not None and (self._session is None or self._session.unusable_after(exc))
        failed: Exception | None = None  # the rollback's own failure (the server went away)
        try:
            if not broken:
                try:
                    await self.rollback()
                except BaseException as failure:
                    broken = True
                    if not isinstance(failure, Exception):
                        raise  # cancelled during the rollback: dropped below, then passed on
                    failed = failure
        finally:
            await self._close(invalidate=broken)
        if exc is not None and (domain_error := translate(exc)) is not None:
            raise domain_error from exc
        if exc is None and failed is not None:  # the body's error, if any, says more than this
            raise (translate(failed) or unavailable(failed)) from failed

    async def _store_events(self, raised: list[tuple[Event, Booking]]) -> None:
        assert self._session is not None, "commit outside `async with uow`"
        await outbox.write(self._session, raised, guest_contact=self._guest_contact)

    async def _commit(self) -> None:
        assert self._transaction is not None, "commit outside `async with uow`"
        transaction, self._transaction = self._transaction, None
        await transaction.commit()

    async def rollback(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            await transaction.rollback()

    async def _close(self, *, invalidate: bool) -> None:
        """Gives the connection back, or (`invalidate`) ends it. Never inside a transaction: the
        caller committed or rolled back first, or invalidates (connections.release ends a
        connection still in one all the same)."""
        pooled, self._pooled, self._session, self._transaction = self._pooled, None, None, None
        if pooled is None:
            return
        await self._connections.release(pooled, discard=invalidate)
