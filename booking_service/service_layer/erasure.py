"""Erasing a guest's personal data (EraseGuestData), in one transaction.

The guest is marked erased for good (a tombstone: a booking or group written later for the guest
id, such as the last step of a create saga in flight, is stored erased); every booking of the guest
is erased as a change of its own (version, history entry, one booking.guest_erased event through
the outbox); then what repeats the data: the groups, the history's reasons, the answers kept under
idempotency keys, every retained outbox event and the operators' notes on sagas
(adapters/erasure.py). What personal data is, and what it becomes, is domain/erasure.py.

Idempotent: a second erasure finds nothing left, changes nothing and raises no event; it answers
zero counts with the first erasure's time. With an idempotency key, a repeat answers the first
answer again (Stripe semantics, as every mutating call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from booking_service.domain.commands import Command
from booking_service.domain.validation import Violations
from booking_service.service_layer import idempotency
from booking_service.service_layer.context import Context
from booking_service.service_layer.unit_of_work import ErasedRecords

SCOPE = "EraseGuestData"


@dataclass(frozen=True, slots=True)
class EraseGuestData(Command):
    guest_id: str
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class GuestErasure:
    """What one erasure did: the first erasure's time, and how many records of each kind it changed
    (the bookings, each with one booking.guest_erased event; then the other records)."""

    guest_id: str
    erase_time: datetime
    bookings: int
    records: ErasedRecords

    def as_json(self) -> dict[str, Any]:
        return {
            "guest_id": self.guest_id,
            "erase_time": self.erase_time.isoformat(),
            "bookings": self.bookings,
            "records": asdict(self.records),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuestErasure:
        return cls(
            data["guest_id"],
            datetime.fromisoformat(data["erase_time"]),
            data["bookings"],
            ErasedRecords(**data["records"]),
        )


def validate_erase(cmd: EraseGuestData) -> None:
    v = Violations(cmd.unreadable)
    v.identifier("guest_id", cmd.guest_id)
    v.idempotency_key(cmd.idempotency_key)
    v.raise_if_any()


async def erase_guest_data(cmd: EraseGuestData, *, ctx: Context) -> GuestErasure:
    validate_erase(cmd)
    scope = idempotency.scope_of(SCOPE, cmd)

    async def attempt() -> GuestErasure:
        uow = ctx.uow()
        async with uow:
            now = ctx.clock()
            ttl = ctx.policy.idempotency_ttl
            replay = await idempotency.claim_answer(uow, scope, cmd.idempotency_key, cmd, now, ttl)
            if replay is not None:
                return GuestErasure.from_json(replay)
            erase_time, booking_ids = await uow.erasures.begin(cmd.guest_id, cmd.actor.actor_id, now)
            erased = 0
            for booking_id in booking_ids:
                booking = await uow.bookings.get(booking_id)
                assert booking is not None, f"booking {booking_id} was locked, and is gone"
                if booking.erase_guest_data(cmd.actor, now):
                    await uow.bookings.save(booking)
                    erased += 1
            records = await uow.erasures.erase_records(cmd.guest_id, booking_ids)
            answer = GuestErasure(cmd.guest_id, erase_time, erased, records)
            await idempotency.complete(uow, scope, cmd.idempotency_key, answer.as_json())
            await uow.commit()
            return answer

    return await idempotency.patiently(attempt)
