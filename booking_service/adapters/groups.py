"""The booking group repository on PostgreSQL (table booking_groups; the items are bookings, read
and written by the booking repository, so their history and events go the usual way).

A save is conditional on the version that was loaded, as a booking's is; a duplicate reference is
DuplicateReference (the caller draws another).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from booking_service.adapters.driver import DriverSession, columns, insert_sql
from booking_service.adapters.errors import constraint_of
from booking_service.adapters.rows import from_snapshot, snapshot
from booking_service.adapters.tables import booking_groups
from booking_service.domain.group import BookingGroup
from booking_service.domain.values import Guest, Money, Venue, VenueType
from booking_service.service_layer.unit_of_work import (
    BookingRepository,
    DuplicateReference,
    GroupRepository,
    GuestErasures,
)

_COLUMNS = columns(booking_groups)
_INSERT = insert_sql(booking_groups, _COLUMNS)
_SET = ("version", "update_time", "cancellation_reason", "cancel_time")
_UPDATE = (
    "UPDATE booking_groups SET "
    + ", ".join(f"{name} = ${i}" for i, name in enumerate(_SET, start=1))
    + f" WHERE group_id = ${len(_SET) + 1} AND version = ${len(_SET) + 2}"
)
_BY_ID = "SELECT " + ", ".join(_COLUMNS) + " FROM booking_groups WHERE group_id = $1::uuid"
_FOR_UPDATE = _BY_ID + " FOR UPDATE"


class PostgresGroupRepository(GroupRepository):
    def __init__(self, session: DriverSession, bookings: BookingRepository, erasures: GuestErasures) -> None:
        self._db = session
        self._bookings = bookings
        self._erasures = erasures

    async def add(self, group: BookingGroup) -> None:
        if await self._erasures.erased(group.guest.guest_id):  # stored erased (adapters/erasure.py)
            group.keep_erased()
        row = group_row(group)
        try:
            await self._db.execute(_INSERT, *(row[name] for name in _COLUMNS))
        except asyncpg.UniqueViolationError as exc:
            if constraint_of(exc) == "booking_groups_group_reference_key":
                raise DuplicateReference(group.reference) from exc
            raise
        group.stored_version = group.version

    async def get(
        self, group_id: str, *, for_update: bool = False, with_history: bool = False
    ) -> BookingGroup | None:
        row = await self._db.fetchrow(_FOR_UPDATE if for_update else _BY_ID, group_id)
        if row is None:
            return None
        group = group_of(row)
        for booking_id in group.booking_ids:
            booking = await self._bookings.get(booking_id, with_history=with_history, for_update=for_update)
            assert booking is not None, f"group {group_id} lost booking {booking_id}"
            group.bookings.append(booking)
        return group

    async def save(self, group: BookingGroup) -> None:
        if group.version == group.stored_version:
            return
        # Read FOR UPDATE, as an erasure reads it: an erasure of the guest is committed by now, or
        # waits for this change (and erases it); so no lock is taken here (it would deadlock).
        if await self._erasures.erased(group.guest.guest_id, hold=False):
            group.keep_erased()
        values = [getattr(group, name) for name in _SET]
        status = await self._db.execute(_UPDATE, *values, group.group_id, group.stored_version)
        assert status == "UPDATE 1", "a group is saved only after it was read FOR UPDATE"
        group.stored_version = group.version


def group_row(group: BookingGroup) -> dict[str, Any]:
    total = group.total
    return {
        "group_id": group.group_id,
        "group_reference": group.reference,
        "guest_id": group.guest.guest_id,
        "guest_name": group.guest.name,
        "guest_email": group.guest.email,
        "guest_phone": group.guest.phone,
        "venue_id": group.venue.venue_id,
        "venue_type": group.venue.venue_type.value,
        "venue_name": group.venue.name,
        "venue_time_zone": group.venue.time_zone,
        "booking_ids": list(group.booking_ids),
        "total_amount_minor": total.amount_minor if total else None,
        "total_currency": total.currency if total else None,
        "payment_intent_id": group.payment_intent_id,
        "version": group.version,
        "cancellation_reason": group.cancellation_reason,
        "idempotency_key": group.idempotency_key,
        "create_time": group.create_time,
        "update_time": group.update_time,
        "cancel_time": group.cancel_time,
    }


def group_of(row: Mapping[Any, Any]) -> BookingGroup:
    amount, currency = row["total_amount_minor"], row["total_currency"]
    return BookingGroup(
        group_id=str(row["group_id"]),
        reference=row["group_reference"],
        guest=Guest(row["guest_id"], row["guest_name"], row["guest_email"], row["guest_phone"]),
        venue=Venue(row["venue_id"], VenueType(row["venue_type"]), row["venue_name"], row["venue_time_zone"]),
        booking_ids=tuple(str(b) for b in row["booking_ids"]),
        version=row["version"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        total=Money(amount, currency) if amount is not None and currency else None,
        payment_intent_id=row["payment_intent_id"],
        idempotency_key=row["idempotency_key"],
        cancellation_reason=row["cancellation_reason"],
        cancel_time=row["cancel_time"],
        stored_version=row["version"],
    )


_GROUP_TIMES = ("create_time", "update_time", "cancel_time")


def group_snapshot(group: BookingGroup) -> dict[str, Any]:
    """The group and its bookings as JSON-ready data (the answer kept under an idempotency key)."""
    row = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in group_row(group).items()}
    return {"group": row, "bookings": [snapshot(booking) for booking in group.bookings]}


def from_group_snapshot(data: Mapping[str, Any]) -> BookingGroup:
    row = dict(data["group"])
    for name in _GROUP_TIMES:
        if row[name] is not None:
            row[name] = datetime.fromisoformat(row[name])
    group = group_of(row)
    group.bookings = [from_snapshot(booking) for booking in data["bookings"]]
    return group
