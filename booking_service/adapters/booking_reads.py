"""The read side on PostgreSQL: one prepared statement per read (a booking, or a page of them), on
the driver directly. Every booking read comes with its history (one array per row).

SQLAlchemy's execution path costs more CPU than the whole round trip to the database (about 1.5 ms
against 0.2 ms per GetBooking, measured with bench/run.py --profile): building, caching and compiling
the statement, two statements for the booking and its history, and a transaction around them. Here
the booking and its history (an array of rows, typed by the driver) come back from one statement,
prepared once per connection by asyncpg, on a connection of asyncpg's own pool (connections.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from booking_service.adapters import venue_policies
from booking_service.adapters.connections import Connections
from booking_service.adapters.driver import DriverSession
from booking_service.adapters.errors import translate
from booking_service.adapters.rows import booking_of, history_of
from booking_service.adapters.tables import ACTIVE_PREDICATE, BLOCKED_RANGE, bookings
from booking_service.domain.model import Booking, HistoryEntry
from booking_service.domain.values import TimeSlot
from booking_service.domain.venue_policy import VenuePolicy
from booking_service.service_layer.reads import BookingQuery, BookingReads, UnitHold

_HISTORY_FIELDS = (
    "version",
    "from_status",
    "to_status",
    "reason",
    "actor",
    "source",
    "changed_fields",
    "change_time",
)
_SELECT = (
    "SELECT "
    + ", ".join(f"b.{column.name}" for column in bookings.c)
    + ", ARRAY(SELECT ROW("
    + ", ".join(f"h.{name}" for name in _HISTORY_FIELDS)
    + ") FROM booking_status_history h WHERE h.booking_id = b.booking_id ORDER BY h.version) AS history"
    + " FROM bookings b"
)
BY_ID = _SELECT + " WHERE b.booking_id = $1::uuid"
BY_REFERENCE = _SELECT + " WHERE b.booking_reference = $1"
HISTORY = (
    "SELECT "
    + ", ".join(_HISTORY_FIELDS)
    + " FROM booking_status_history WHERE booking_id = $1::uuid AND version <= $2 ORDER BY version"
)
_PAGE = _SELECT + " WHERE "
_BARE = "SELECT " + ", ".join(f"b.{column.name}" for column in bookings.c) + " FROM bookings b WHERE "
_OVERLAPPING_WHERE = (
    f"b.venue_id = $1 AND {BLOCKED_RANGE}(b.start_time, b.end_time, b.buffer_before_seconds,"
    + f" b.buffer_after_seconds) && tstzrange($2, $3, '[)') AND {ACTIVE_PREDICATE}"
)
_BY_START = " ORDER BY b.start_time, b.booking_id"
OVERLAPPING = _BARE + _OVERLAPPING_WHERE + _BY_START
#: Those of the rows that hold one of the units ($4) or are overdue at $5 (Booking.is_overdue), as
#: UnitHolds: the buffers are the frozen rules' (written with them, in whole seconds, 0 for a
#: booking made before rules were frozen), as the exclusion constraint reads them.
UNIT_HOLDS = (
    "SELECT b.booking_id::text, b.unit_id, b.start_time, b.end_time, b.buffer_before_seconds,"
    + " b.buffer_after_seconds, b.status = 'PENDING' AS pending, b.expire_time, b.inventory_reservation_id"
    + " FROM bookings b WHERE "
    + _OVERLAPPING_WHERE
    + " AND (b.unit_id = ANY($4::text[]) OR (b.status = 'PENDING' AND b.expire_time <= $5))"
    + _BY_START
)

#: The venue's last recorded zone, from the index bookings_venue_created (0008) alone.
RECORDED_TIME_ZONE = (
    "SELECT b.venue_time_zone FROM bookings b WHERE b.venue_id = $1"
    " ORDER BY b.create_time DESC, b.booking_id DESC LIMIT 1"
)
#: The venue's policy row (all NULL when it has none) and its last recorded zone, in one statement.
POLICY_AND_RECORDED_ZONE = (
    "SELECT "
    + ", ".join(f"p.{name}" for name in venue_policies.COLUMNS)
    + ", ("
    + RECORDED_TIME_ZONE
    + ") AS recorded_time_zone FROM (VALUES (1)) AS one (x) LEFT JOIN venue_policies p ON p.venue_id = $1"
)


def page_statement(query: BookingQuery) -> tuple[str, list[Any]]:
    """The page's statement and its arguments; one text per combination of filters, so asyncpg
    prepares each shape once per connection."""
    arguments: list[Any] = []

    def argument(value: Any) -> str:
        arguments.append(value)
        return f"${len(arguments)}"

    owner = "guest_id" if query.owner == "guest" else "venue_id"
    conditions = [f"b.{owner} = {argument(query.owner_id)}"]
    if query.statuses:
        conditions.append(f"b.status = ANY({argument(sorted(s.value for s in query.statuses))}::text[])")
    window_start, window_end = query.window
    if window_start is not None:
        conditions.append(f"b.end_time > {argument(window_start)}")
    if window_end is not None:
        conditions.append(f"b.start_time < {argument(window_end)}")
    if query.local_date is not None:
        conditions.append(f"b.local_start_date = {argument(query.local_date)}")
    if query.after is not None:  # the keyset: rows after (start time, id)
        start, booking_id = query.after
        conditions.append(f"(b.start_time, b.booking_id) > ({argument(start)}, {argument(booking_id)}::uuid)")
    statement = (
        (_PAGE if query.with_history else _BARE)
        + " AND ".join(conditions)
        + f" ORDER BY b.start_time, b.booking_id LIMIT {argument(query.limit)}"
    )
    return statement, arguments


def _with_history(row: Any) -> Booking:
    """A booking from a row of _SELECT: its columns and its history (an array of rows)."""
    history = [history_of(dict(zip(_HISTORY_FIELDS, entry, strict=True))) for entry in row["history"]]
    return booking_of(row, history)


class PostgresBookingReads(BookingReads):
    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    async def get(self, booking_id: str) -> Booking | None:
        return await self._one(BY_ID, booking_id)

    async def get_by_reference(self, reference: str) -> Booking | None:
        return await self._one(BY_REFERENCE, reference)

    async def page(self, query: BookingQuery) -> list[Booking]:
        statement, arguments = page_statement(query)
        rows = await self._fetch(statement, arguments)
        return [_with_history(row) if query.with_history else booking_of(row) for row in rows]

    async def history(self, booking_id: str, version: int) -> list[HistoryEntry]:
        return [history_of(row) for row in await self._fetch(HISTORY, [booking_id, version])]

    async def overlapping(self, venue_id: str, slot: TimeSlot) -> list[Booking]:
        rows = await self._fetch(OVERLAPPING, [venue_id, slot.start, slot.end])
        return [booking_of(row) for row in rows]

    async def unit_holds(
        self, venue_id: str, slot: TimeSlot, units: Sequence[str], now: datetime
    ) -> list[UnitHold]:
        rows = await self._fetch(UNIT_HOLDS, [venue_id, slot.start, slot.end, list(units), now])
        return [
            UnitHold(
                booking_id,
                unit_id,
                TimeSlot(start - timedelta(seconds=before), end + timedelta(seconds=after)),
                expire_time if pending else None,
                reservation,
            )
            for booking_id, unit_id, start, end, before, after, pending, expire_time, reservation in rows
        ]

    async def recorded_time_zone(self, venue_id: str) -> str | None:
        rows = await self._fetch(RECORDED_TIME_ZONE, [venue_id])
        return str(rows[0]["venue_time_zone"]) if rows else None

    async def venue_policy(self, venue_id: str, *, with_history: bool = False) -> VenuePolicy:
        rows = await self._fetch(venue_policies.GET, [venue_id])
        history = await self._fetch(venue_policies.HISTORY, [venue_id]) if rows and with_history else []
        return venue_policies.policy_of(rows[0] if rows else None, venue_id, history)

    async def venue_policy_and_zone(self, venue_id: str) -> tuple[VenuePolicy, str | None]:
        (row,) = await self._fetch(POLICY_AND_RECORDED_ZONE, [venue_id])
        policy = venue_policies.policy_of(row if row["venue_id"] is not None else None, venue_id)
        recorded = row["recorded_time_zone"]
        return policy, None if recorded is None else str(recorded)

    async def _one(self, statement: str, argument: str) -> Booking | None:
        rows = await self._fetch(statement, [argument])
        if not rows:
            return None
        return _with_history(rows[0])

    async def _fetch(self, statement: str, arguments: list[Any]) -> list[Any]:
        return await fetch(self._connections, statement, *arguments)


async def fetch(connections: Connections, statement: str, *arguments: Any) -> list[Any]:
    """One statement on a pooled connection, outside any transaction (a read side's one round
    trip): its rows. A connection the failure left unusable is dropped from the pool; a database
    error is raised as its domain error (adapters/errors.translate) where it has one (a pool with
    no connection free: StorageUnavailable)."""
    try:
        connection = await connections.acquire()
        session = DriverSession(connections, connection)
        try:
            rows: list[Any] = await session.fetch(statement, *arguments)
        except BaseException as exc:
            await connections.release(connection, discard=session.unusable_after(exc))
            raise
        await connections.release(connection)
    except Exception as exc:
        domain_error = translate(exc)
        if domain_error is None:
            raise
        raise domain_error from exc
    return rows
