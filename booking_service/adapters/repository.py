"""The booking repository on PostgreSQL (statements on the driver; see driver.py).

Saves are conditional on the version that was loaded (`WHERE version = $n`), so of two concurrent
changes made from the same version exactly one lands, and on the saga that held the booking when it
was loaded (`saga_id`), so that no change lands while another saga changes its money or hold (and a
saga takes the booking only while it is free); the exclusion constraint turns an overlapping claim
on a unit into UnitUnavailable. A booking of a guest whose data was erased is stored erased
(adapters/erasure.py says why nothing personal slips past an erasure).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from booking_service.adapters.driver import DriverSession, columns, insert_sql
from booking_service.adapters.errors import constraint_of
from booking_service.adapters.rows import arguments, booking_of, booking_row, history_of, history_row
from booking_service.adapters.tables import ACTIVE_PREDICATE, BLOCKED_RANGE, booking_status_history, bookings
from booking_service.domain.errors import BookingNotFound, Contention, VersionMismatch
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.domain.unit_conflicts import unit_taken_at_write
from booking_service.domain.values import TimeSlot
from booking_service.service_layer.unit_of_work import BookingRepository, DuplicateReference, GuestErasures

_COLUMNS = columns(bookings)
_INSERT = insert_sql(bookings, _COLUMNS)
_SET = tuple(name for name in _COLUMNS if name not in ("booking_id", "booking_reference", "create_time"))
_UPDATE = (
    "UPDATE bookings SET "
    + ", ".join(f"{name} = ${i}" for i, name in enumerate(_SET, start=1))
    + f" WHERE booking_id = ${len(_SET) + 1} AND version = ${len(_SET) + 2}"
    + f" AND saga_id IS NOT DISTINCT FROM ${len(_SET) + 3}::uuid"
)
_VERSION = "SELECT version, saga_id FROM bookings WHERE booking_id = $1"
_HISTORY_COLUMNS = columns(booking_status_history, without=("id",))
_INSERT_HISTORY = insert_sql(booking_status_history, _HISTORY_COLUMNS)
# A new booking with its one history entry (a created booking's): one statement, one round trip. The
# entry's placeholders follow the booking's; the foreign key is checked at the statement's end.
_INSERT_WITH_HISTORY = (
    f"WITH booking AS ({_INSERT}) INSERT INTO {booking_status_history.name} ({', '.join(_HISTORY_COLUMNS)})"
    " VALUES ("
    + ", ".join(f"${i}" for i in range(len(_COLUMNS) + 1, len(_COLUMNS) + len(_HISTORY_COLUMNS) + 1))
    + ")"
)
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM bookings WHERE "
_BY_ID = _SELECT + "booking_id = $1"
_BY_ID_FOR_UPDATE = _BY_ID + " FOR UPDATE"
_BY_REFERENCE = _SELECT + "booking_reference = $1"
_HISTORY = (
    "SELECT "
    + ", ".join(_HISTORY_COLUMNS)
    + " FROM booking_status_history WHERE booking_id = $1 ORDER BY version"
)
_DUE_FOR_EXPIRY = (
    _SELECT + f"status = '{BookingStatus.PENDING.value}' AND expire_time <= $1 ORDER BY expire_time LIMIT $2"
)
_NO_SHOW = _SELECT + f"status = '{BookingStatus.CONFIRMED.value}' AND start_time <= $1"
_LOCKED_PAGE = " ORDER BY start_time, booking_id LIMIT ${} FOR UPDATE SKIP LOCKED"
#: The time a stored booking blocks its unit (its slot and frozen buffers; tables.BLOCKED_RANGE):
#: the overlap reads below take the blocked time of the booking being made.
_BLOCKED = f"{BLOCKED_RANGE}(start_time, end_time, buffer_before_seconds, buffer_after_seconds)"
_OVERDUE_OVERLAPPING = (
    _SELECT + f"venue_id = $1 AND status = '{BookingStatus.PENDING.value}' AND expire_time <= $2"
    f" AND {_BLOCKED} && tstzrange($3, $4, '[)')"
)
_OVERLAPPING = (
    _SELECT
    + f"venue_id = $1 AND unit_id = $2 AND {_BLOCKED} && tstzrange($3, $4, '[)') AND {ACTIVE_PREDICATE}"
)
_ORDER = " ORDER BY start_time, booking_id"
_CHANGED_SINCE = _SELECT + "update_time >= $1 AND (update_time, booking_id) > ($2, $3::uuid)"
_CHANGED_ORDER = " ORDER BY update_time, booking_id LIMIT $4"
_NO_UUID = "00000000-0000-0000-0000-000000000000"


class PostgresBookingRepository(BookingRepository):
    def __init__(self, session: DriverSession, erasures: GuestErasures) -> None:
        super().__init__()
        self._db = session
        self._erasures = erasures

    async def add(self, booking: Booking) -> None:
        if booking.guest_erased_version is None and await self._erasures.erased(booking.guest.guest_id):
            booking.guest_erased_version = booking.version  # born erased: the guest was erased before
        if booking.guest_erased_version is not None:
            booking.keep_erased()
        values = arguments(booking_row(booking), _COLUMNS)
        statement, history = _INSERT, _history_values(booking)
        if len(history) == 1:
            statement, values, history = _INSERT_WITH_HISTORY, values + history[0], []
        try:
            await self._db.execute(statement, *values)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise self._integrity_error(exc, booking) from exc
        await self._insert_history(history)
        booking.new_history.clear()
        booking.stored_version, booking.stored_saga_id = booking.version, booking.saga_id
        self.seen.append(booking)

    async def get(
        self, booking_id: str, *, with_history: bool = False, for_update: bool = False
    ) -> Booking | None:
        return await self._one(_BY_ID_FOR_UPDATE if for_update else _BY_ID, booking_id, with_history)

    async def get_by_reference(self, reference: str, *, with_history: bool = False) -> Booking | None:
        return await self._one(_BY_REFERENCE, reference, with_history)

    async def save(self, booking: Booking) -> None:
        if booking.version == booking.stored_version and booking.saga_id == booking.stored_saga_id:
            return
        if booking.guest_erased_version is not None:
            booking.keep_erased()
        values = arguments(booking_row(booking), _SET)
        values += [booking.booking_id, booking.stored_version, booking.stored_saga_id]
        try:
            status = await self._db.execute(_UPDATE, *values)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise self._integrity_error(exc, booking) from exc
        if status != "UPDATE 1":
            found = await self._db.fetchrow(_VERSION, booking.booking_id)
            if found is None:
                raise BookingNotFound(
                    f"There is no booking {booking.booking_id}.", {"booking_id": booking.booking_id}
                )
            if found["version"] != booking.stored_version:
                raise VersionMismatch(booking.booking_id, booking.stored_version, found["version"])
            raise Contention.busy(booking.booking_id)
        await self._store_history(booking)
        booking.stored_version, booking.stored_saga_id = booking.version, booking.saga_id
        if booking not in self.seen:
            self.seen.append(booking)

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Booking]:
        return await self._many(_DUE_FOR_EXPIRY, now, limit)

    async def no_show_candidates(
        self, started_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Booking]:
        if after is None:
            return await self._many(_NO_SHOW + _LOCKED_PAGE.format(2), started_before, limit)
        keyset = " AND (start_time, booking_id) > ($2, $3::uuid)"
        return await self._many(_NO_SHOW + keyset + _LOCKED_PAGE.format(4), started_before, *after, limit)

    async def overdue_overlapping(self, venue_id: str, slot: TimeSlot, now: datetime) -> list[Booking]:
        return await self._many(_OVERDUE_OVERLAPPING, venue_id, now, slot.start, slot.end)

    async def changed_since(
        self, since: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Booking]:
        last, last_id = after or (since, _NO_UUID)
        return await self._many(_CHANGED_SINCE + _CHANGED_ORDER, since, last, last_id, limit)

    async def overlapping(
        self, venue_id: str, unit_id: str, slot: TimeSlot, exclude_booking_id: str | None
    ) -> list[Booking]:
        if exclude_booking_id:
            statement = _OVERLAPPING + " AND booking_id <> $5::uuid" + _ORDER
            return await self._many(statement, venue_id, unit_id, slot.start, slot.end, exclude_booking_id)
        return await self._many(_OVERLAPPING + _ORDER, venue_id, unit_id, slot.start, slot.end)

    async def _many(self, statement: str, *arguments: Any) -> list[Booking]:
        found = [booking_of(row) for row in await self._db.fetch(statement, *arguments)]
        self.seen.extend(found)
        return found

    async def _one(self, statement: str, argument: str, with_history: bool) -> Booking | None:
        row = await self._db.fetchrow(statement, argument)
        if row is None:
            return None
        history = None
        if with_history:
            history = [history_of(entry) for entry in await self._db.fetch(_HISTORY, row["booking_id"])]
        booking = booking_of(row, history)
        self.seen.append(booking)
        return booking

    async def _store_history(self, booking: Booking) -> None:
        await self._insert_history(_history_values(booking))
        booking.new_history.clear()

    async def _insert_history(self, values: list[list[Any]]) -> None:
        if len(values) == 1:
            await self._db.execute(_INSERT_HISTORY, *values[0])
        elif values:
            await self._db.executemany(_INSERT_HISTORY, values)

    @staticmethod
    def _integrity_error(exc: Exception, booking: Booking) -> Exception:
        constraint = constraint_of(exc)
        if constraint == "bookings_no_double_booking":
            return unit_taken_at_write(
                booking.venue.venue_id, booking.unit_id or "", booking.slot, booking.rules
            )
        if constraint == "bookings_booking_reference_key":
            return DuplicateReference(booking.reference)
        return exc


def _history_values(booking: Booking) -> list[list[Any]]:
    """The arguments of the booking's new history rows, in _HISTORY_COLUMNS order."""
    rows = [history_row(booking.booking_id, entry) for entry in booking.new_history]
    return [[row[name] for name in _HISTORY_COLUMNS] for row in rows]
