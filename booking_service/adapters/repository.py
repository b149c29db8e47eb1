"""The booking repository on PostgreSQL (SQLAlchemy Core on an AsyncConnection).

Saves are conditional on the version that was loaded (`WHERE version = :stored_version`), so of two
concurrent changes made from the same version exactly one lands; the exclusion constraint turns an
overlapping claim on a unit into UnitUnavailable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from booking_service.adapters.errors import constraint_of
from booking_service.adapters.rows import booking_of, booking_row, history_of, history_row
from booking_service.adapters.tables import ACTIVE_PREDICATE, booking_status_history, bookings
from booking_service.domain.errors import BookingNotFound, UnitUnavailable, VersionMismatch
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import TimeSlot
from booking_service.service_layer.unit_of_work import BookingQuery, BookingRepository, DuplicateReference

_b = bookings.c
_h = booking_status_history.c

# Built once; each call passes only parameters (see idempotency_store.py).
_INSERT = insert(bookings)
_UPDATE = update(bookings).where(
    _b.booking_id == bindparam("_booking_id"), _b.version == bindparam("_stored_version")
)


class SqlAlchemyBookingRepository(BookingRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__()
        self._conn = conn

    async def add(self, booking: Booking) -> None:
        try:
            await self._conn.execute(_INSERT, booking_row(booking))
        except IntegrityError as exc:
            raise self._integrity_error(exc, booking) from exc
        await self._store_history(booking)
        booking.stored_version = booking.version
        self.seen.append(booking)

    async def get(self, booking_id: str, *, with_history: bool = False) -> Booking | None:
        return await self._one(select(bookings).where(_b.booking_id == booking_id), with_history)

    async def get_by_reference(self, reference: str, *, with_history: bool = False) -> Booking | None:
        return await self._one(select(bookings).where(_b.booking_reference == reference), with_history)

    async def save(self, booking: Booking) -> None:
        if booking.version == booking.stored_version:
            return
        row = booking_row(booking)
        del row["booking_id"], row["booking_reference"], row["create_time"]
        row |= {"_booking_id": booking.booking_id, "_stored_version": booking.stored_version}
        try:
            result = await self._conn.execute(_UPDATE, row)
        except IntegrityError as exc:
            raise self._integrity_error(exc, booking) from exc
        if result.rowcount != 1:
            current = await self._conn.scalar(select(_b.version).where(_b.booking_id == booking.booking_id))
            if current is None:
                raise BookingNotFound(
                    f"There is no booking {booking.booking_id}.", {"booking_id": booking.booking_id}
                )
            raise VersionMismatch(booking.booking_id, booking.stored_version, current)
        await self._store_history(booking)
        booking.stored_version = booking.version
        if booking not in self.seen:
            self.seen.append(booking)

    async def page(self, query: BookingQuery) -> list[Booking]:
        owner = _b.guest_id if query.owner == "guest" else _b.venue_id
        statement = select(bookings).where(owner == query.owner_id)
        if query.statuses:
            statement = statement.where(_b.status.in_(sorted(s.value for s in query.statuses)))
        window_start, window_end = query.window
        if window_start is not None:
            statement = statement.where(_b.end_time > window_start)
        if window_end is not None:
            statement = statement.where(_b.start_time < window_end)
        if query.local_date is not None:
            statement = statement.where(_b.local_start_date == query.local_date)
        if query.after is not None:
            statement = statement.where(_after(query.after))
        statement = statement.order_by(_b.start_time, _b.booking_id).limit(query.limit)
        return await self._many(statement)

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Booking]:
        statement = (
            select(bookings)
            .where(_b.status == BookingStatus.PENDING.value, _b.expire_time <= now)
            .order_by(_b.expire_time)
            .limit(limit)
        )
        return await self._many(statement)

    async def no_show_candidates(
        self, started_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Booking]:
        statement = select(bookings).where(
            _b.status == BookingStatus.CONFIRMED.value, _b.start_time <= started_before
        )
        if after is not None:
            statement = statement.where(_after(after))
        statement = (
            statement.order_by(_b.start_time, _b.booking_id).limit(limit).with_for_update(skip_locked=True)
        )
        return await self._many(statement)

    async def overdue_overlapping(self, venue_id: str, slot: TimeSlot, now: datetime) -> list[Booking]:
        statement = select(bookings).where(
            _b.venue_id == venue_id,
            _b.status == BookingStatus.PENDING.value,
            _b.expire_time <= now,
            _b.start_time < slot.end,
            _b.end_time > slot.start,
        )
        return await self._many(statement)

    async def _many(self, statement: Select[Any]) -> list[Booking]:
        rows = (await self._conn.execute(statement)).mappings().all()
        found = [booking_of(row) for row in rows]
        self.seen.extend(found)
        return found

    async def overlapping(
        self, venue_id: str, unit_id: str, slot: TimeSlot, exclude_booking_id: str | None
    ) -> list[Booking]:
        statement = (
            select(bookings)
            .where(
                _b.venue_id == venue_id,
                _b.unit_id == unit_id,
                _b.start_time < slot.end,
                _b.end_time > slot.start,
                text(ACTIVE_PREDICATE),
            )
            .order_by(_b.start_time, _b.booking_id)
        )
        if exclude_booking_id:
            statement = statement.where(_b.booking_id != exclude_booking_id)
        return await self._many(statement)

    async def _one(self, statement: Select[Any], with_history: bool) -> Booking | None:
        row = (await self._conn.execute(statement)).mappings().first()
        if row is None:
            return None
        history = None
        if with_history:
            entries = await self._conn.execute(
                select(booking_status_history).where(_h.booking_id == row["booking_id"]).order_by(_h.version)
            )
            history = [history_of(entry) for entry in entries.mappings()]
        booking = booking_of(row, history)
        self.seen.append(booking)
        return booking

    async def _store_history(self, booking: Booking) -> None:
        if booking.new_history:
            await self._conn.execute(
                insert(booking_status_history),
                [history_row(booking.booking_id, entry) for entry in booking.new_history],
            )
            booking.new_history.clear()

    @staticmethod
    def _integrity_error(exc: IntegrityError, booking: Booking) -> Exception:
        constraint = constraint_of(exc)
        if constraint == "bookings_no_double_booking":
            return UnitUnavailable(
                f"Unit {booking.unit_id} of venue {booking.venue.venue_id} is already booked for a time "
                f"overlapping {booking.slot.start.isoformat()} to {booking.slot.end.isoformat()}.",
                {"venue_id": booking.venue.venue_id, "unit_id": booking.unit_id or ""},
            )
        if constraint == "bookings_booking_reference_key":
            return DuplicateReference(booking.reference)
        return exc


def _after(cursor: tuple[datetime, str]) -> ColumnElement[bool]:
    """The keyset condition: rows after (start time, id) in that order."""
    start, booking_id = cursor
    return tuple_(_b.start_time, _b.booking_id) > tuple_(
        bindparam("after_start", start, _b.start_time.type),
        bindparam("after_id", booking_id, _b.booking_id.type),
    )
