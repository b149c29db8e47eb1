"""Guest erasure in PostgreSQL: the tombstone, the lock that orders it against new bookings, and the
records an erasure rewrites besides the bookings themselves.

Why nothing personal is left behind, whatever runs at the same time:
- A new booking or group (a create saga's last step) is stored in the transaction that asks
  `erased` first; that takes the guest's advisory lock shared, an erasure takes it exclusive before
  it writes the tombstone. So either the erasure waits for the new booking's commit and then finds
  it (reading the guest's bookings after the lock), or the new booking waits for the erasure's commit
  and then finds the tombstone, and is stored erased.
- An existing booking is rewritten under its row lock: the erasure locks every booking and group of
  the guest (FOR UPDATE, in id order) before it changes anything; a change reads its booking FOR
  UPDATE, so it either lands before and is erased, or reads the erased booking, whose
  guest_erased_version makes every later save store it erased (Booking.keep_erased).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from booking.v1 import booking_pb2
from booking.v1 import booking_pb2 as pb

from booking_service.adapters.driver import DriverSession
from booking_service.domain import erasure
from booking_service.domain.values import ChangeSource
from booking_service.service_layer.unit_of_work import ErasedRecords, GuestErasures

#: The advisory lock class of a guest ("eras"); the object id is hashtext(guest_id).
LOCK_CLASS = 0x65726173
#: pg_advisory_xact_lock_shared($1, hashtext($2)), then whether $2 is erased (migration 0015).
_LOCK_SHARED_AND_CHECK = "SELECT booking_guest_erased($1, $2)"
_LOCK = "SELECT pg_advisory_xact_lock($1, hashtext($2))"
_IS_ERASED = "SELECT 1 FROM erased_guests WHERE guest_id = $1"
_MARK = (
    "INSERT INTO erased_guests (guest_id, erase_time, actor) VALUES ($1, $2, $3)"
    " ON CONFLICT (guest_id) DO UPDATE SET guest_id = EXCLUDED.guest_id RETURNING erase_time"
)
_LOCK_GROUPS = "SELECT group_id FROM booking_groups WHERE guest_id = $1 ORDER BY group_id FOR UPDATE"
_LOCK_BOOKINGS = "SELECT booking_id FROM bookings WHERE guest_id = $1 ORDER BY booking_id FOR UPDATE"
_ERASE_GROUPS = (
    "UPDATE booking_groups SET guest_name = $2, guest_email = '', guest_phone = '',"
    " cancellation_reason = CASE WHEN cancellation_reason = '' THEN '' ELSE $2 END"
    " WHERE guest_id = $1 AND (guest_name <> $2 OR guest_email <> '' OR guest_phone <> ''"
    " OR cancellation_reason NOT IN ('', $2))"
)
_ERASE_HISTORY = (
    "UPDATE booking_status_history SET reason = $2 WHERE booking_id = ANY($1::uuid[])"
    f" AND source = '{ChangeSource.API.value}' AND reason NOT IN ('', $2)"
)
_ANSWERS = (
    "SELECT scope, key, response, erased_fingerprint IS NOT NULL AS digested FROM idempotency_keys"
    " WHERE response->>'booking_id' = ANY($1::text[]) OR response->'group'->>'group_id' = ANY($2::text[])"
    " ORDER BY scope, key FOR UPDATE"
)
# The request's digest goes with the answer (idempotency.erased_fingerprint; a key claimed before
# 0012 has none to put instead, and keeps its digest until it expires).
_SET_ANSWER = (
    "UPDATE idempotency_keys SET response = $3, fingerprint = coalesce(erased_fingerprint, fingerprint),"
    " erased_fingerprint = NULL WHERE scope = $1 AND key = $2"
)
_EVENTS = "SELECT id, payload FROM booking_outbox WHERE booking_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"
_SET_EVENT = "UPDATE booking_outbox SET payload = $2 WHERE id = $1"
#: An operator's note on a saga they resolved (saga_log.resolve writes `... | resolved: <note>`).
_ERASE_SAGA_NOTES = (
    r"UPDATE booking_sagas SET error = regexp_replace(error, '\| resolved: .*$', '| resolved: ' || $2)"
    r" WHERE booking_id = ANY($1::uuid[]) AND error ~ '\| resolved: '"
    r" AND NOT error LIKE '%| resolved: ' || $2"
)


class PostgresGuestErasures(GuestErasures):
    def __init__(self, session: DriverSession) -> None:
        self._db = session

    async def erased(self, guest_id: str, *, hold: bool = True) -> bool:
        if hold:  # the lock, then a fresh look at the tombstones, in one round trip (0015)
            return bool((await self._db.fetchrow(_LOCK_SHARED_AND_CHECK, LOCK_CLASS, guest_id))[0])
        return await self._db.fetchrow(_IS_ERASED, guest_id) is not None

    async def begin(self, guest_id: str, actor: str, now: datetime) -> tuple[datetime, list[str]]:
        await self._db.execute(_LOCK, LOCK_CLASS, guest_id)
        erase_time: datetime = (await self._db.fetchrow(_MARK, guest_id, now, actor))["erase_time"]
        await self._db.fetch(_LOCK_GROUPS, guest_id)
        rows = await self._db.fetch(_LOCK_BOOKINGS, guest_id)
        return erase_time, [str(row["booking_id"]) for row in rows]

    async def erase_records(self, guest_id: str, booking_ids: list[str]) -> ErasedRecords:
        marker = erasure.MARKER
        group_ids = [str(r["group_id"]) for r in await self._db.fetch(_LOCK_GROUPS, guest_id)]
        return ErasedRecords(
            booking_groups=_count(await self._db.execute(_ERASE_GROUPS, guest_id, marker)),
            history_entries=_count(await self._db.execute(_ERASE_HISTORY, booking_ids, marker)),
            idempotency_records=await self._erase_answers(booking_ids, group_ids),
            outbox_events=await self._erase_events(booking_ids),
            saga_records=_count(await self._db.execute(_ERASE_SAGA_NOTES, booking_ids + group_ids, marker)),
        )

    async def _erase_answers(self, booking_ids: list[str], group_ids: list[str]) -> int:
        """The answers kept under idempotency keys (a replay after the erasure answers it erased)."""
        changed = 0
        for row in await self._db.fetch(_ANSWERS, booking_ids, group_ids):
            stored = _decoded(row["response"])
            erased = erased_answer(stored)
            if erased != stored or row["digested"]:
                await self._db.execute(_SET_ANSWER, row["scope"], row["key"], json.dumps(erased))
                changed += 1
        return changed

    async def _erase_events(self, booking_ids: list[str]) -> int:
        """Every retained outbox row of the bookings, sent or not (a feed may replay it)."""
        changed = 0
        for row in await self._db.fetch(_EVENTS, booking_ids):
            erased = erased_event(bytes(row["payload"]))
            if erased is not None:
                await self._db.execute(_SET_EVENT, row["id"], erased)
                changed += 1
        return changed


def erased_answer(stored: dict[str, Any]) -> dict[str, Any]:
    """An answer kept under an idempotency key (rows.snapshot, or groups.group_snapshot) erased."""
    if "group" in stored:
        return {
            **stored,
            "group": _erased_row(stored["group"]),
            "bookings": [_erased_row(b) for b in stored.get("bookings", [])],
        }
    return _erased_row(stored)


def _erased_row(row: dict[str, Any]) -> dict[str, Any]:
    erased = {**row, "guest_name": erasure.MARKER, "guest_email": "", "guest_phone": ""}
    for name in ("special_requests", "cancellation_reason"):
        if name in row:
            erased[name] = erasure.erased_text(row[name])
    return erased


def erased_event(payload: bytes) -> bytes | None:
    """A BookingEvent as published, erased (the booking's guest and its free text, a person's
    reason); None when there was nothing to erase."""
    original = booking_pb2.BookingEvent.FromString(payload)
    message = booking_pb2.BookingEvent()
    message.CopyFrom(original)
    booking = message.booking
    if booking.HasField("guest"):
        booking.guest.name, booking.guest.email, booking.guest.phone = erasure.MARKER, "", ""
    booking.special_requests = erasure.erased_text(booking.special_requests)
    booking.cancellation_reason = erasure.erased_text(booking.cancellation_reason)
    for entry in booking.history:  # never written in an event; erased all the same
        if entry.source == pb.CHANGE_SOURCE_API:
            entry.reason = erasure.erased_text(entry.reason)
    if message.source == pb.CHANGE_SOURCE_API:
        message.reason = erasure.erased_text(message.reason)
    return None if message == original else message.SerializeToString()


def _decoded(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return data


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
