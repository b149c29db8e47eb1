"""The ports the use cases need: a booking repository, an idempotency store, and a unit of work
that makes their changes one transaction (`async with uow:` rolls back unless `await uow.commit()`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from booking_service.domain.events import Event
from booking_service.domain.group import BookingGroup
from booking_service.domain.model import Booking
from booking_service.domain.values import TimeSlot
from booking_service.domain.venue_policy import VenuePolicy
from booking_service.service_layer.sagas.log import SagaLog


class DuplicateReference(Exception):
    """The generated reference is taken already (rare); the caller draws another and retries."""


class BookingRepository(abc.ABC):
    def __init__(self) -> None:
        self.seen: list[Booking] = []

    @abc.abstractmethod
    async def add(self, booking: Booking) -> None:
        """Stores a new booking (raises UnitUnavailable, DuplicateReference)."""

    @abc.abstractmethod
    async def get(
        self, booking_id: str, *, with_history: bool = False, for_update: bool = False
    ) -> Booking | None:
        """The booking; `for_update` locks its row for this unit of work (a change reads it so: no
        other change slips between the read and the save, and it lands before an erasure of the
        guest or meets the booking erased)."""

    @abc.abstractmethod
    async def get_by_reference(self, reference: str, *, with_history: bool = False) -> Booking | None: ...

    @abc.abstractmethod
    async def save(self, booking: Booking) -> None:
        """Stores the booking's changes if the stored row is still at `stored_version`
        (raises VersionMismatch otherwise, UnitUnavailable on a taken slot)."""

    @abc.abstractmethod
    async def due_for_expiry(self, now: datetime, limit: int) -> list[Booking]:
        """PENDING bookings past their deadline, oldest first (each is settled on its own, with
        its version deciding any race)."""

    @abc.abstractmethod
    async def no_show_candidates(
        self, started_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Booking]:
        """CONFIRMED bookings that started before the cutoff, in (start, id) order after `after`,
        locked for this unit of work (rows another transaction holds are skipped: that one decides
        them); the caller decides which are due."""

    @abc.abstractmethod
    async def overdue_overlapping(self, venue_id: str, slot: TimeSlot, now: datetime) -> list[Booking]:
        """PENDING bookings of the venue past their deadline whose blocked time overlaps the slot."""

    @abc.abstractmethod
    async def changed_since(
        self, since: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Booking]:
        """Bookings changed at or after `since`, in (update time, id) order after `after`."""

    @abc.abstractmethod
    async def overlapping(
        self, venue_id: str, unit_id: str, slot: TimeSlot, exclude_booking_id: str | None
    ) -> list[Booking]:
        """Active bookings that hold the unit over a time overlapping the slot: their blocked time
        (slot and frozen buffers) overlaps it; pass the blocked time of the booking being made."""


class GroupRepository(abc.ABC):
    """Booking groups (domain/group.py); their items are the booking repository's."""

    @abc.abstractmethod
    async def add(self, group: BookingGroup) -> None:
        """Stores a new group (raises DuplicateReference); add its bookings through `bookings`."""

    @abc.abstractmethod
    async def get(
        self, group_id: str, *, for_update: bool = False, with_history: bool = False
    ) -> BookingGroup | None:
        """The group with its bookings; `for_update` locks the group's row, then each item's row in
        the group's order, for this unit of work (the one change of a group at a time, and no
        single-booking change slips between reading an item and saving it)."""

    @abc.abstractmethod
    async def save(self, group: BookingGroup) -> None:
        """Stores the group's changes (it was read `for_update`)."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An idempotency key someone else claimed first: what they asked, and what they got."""

    fingerprint: bytes
    response: Booking | None  # None while the first request is still running
    #: The answer kept for a group call (response is None then).
    group: BookingGroup | None = None
    #: The answer kept for a call that answers neither a booking nor a group (an erasure's report).
    answer: Mapping[str, Any] | None = None


class IdempotencyStore(abc.ABC):
    @abc.abstractmethod
    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: bytes,
        now: datetime,
        ttl: timedelta,
        owner: str | None = None,
        *,
        erased_fingerprint: bytes | None = None,
    ) -> StoredKey | None:
        """Claims the key for this transaction (None), or returns the live record of an earlier
        claim. A concurrent claim of the same key waits until this transaction ends. `owner`: the
        saga of the claiming request, the only one that may give the key back. `erased_fingerprint`:
        the request's digest with the guest's data erased, which replaces `fingerprint` once the
        answer is erased (the guest's data erased before or after the answer is kept)."""

    @abc.abstractmethod
    async def complete(
        self, scope: str, key: str, response: Booking | BookingGroup | Mapping[str, Any]
    ) -> None:
        """Keeps the answer to replay: a booking, a group, or JSON-ready data (another answer)."""

    @abc.abstractmethod
    async def release(self, scope: str, key: str, owner: str | None = None) -> None:
        """Gives back a claim still in progress (never a stored answer) made by `owner`."""

    @abc.abstractmethod
    async def purge(self, now: datetime) -> int:
        """Deletes keys past their retention; returns how many."""


@dataclass(frozen=True, slots=True)
class ErasedRecords:
    """How many records of each kind one erasure of a guest's data changed (besides the bookings)."""

    booking_groups: int = 0
    history_entries: int = 0
    idempotency_records: int = 0
    outbox_events: int = 0
    saga_records: int = 0


class GuestErasures(abc.ABC):
    """Guests whose personal data was erased (domain/erasure.py), and the erasure of their records."""

    @abc.abstractmethod
    async def erased(self, guest_id: str, *, hold: bool = True) -> bool:
        """Whether the guest's data was erased: ask it in the transaction that stores a new booking
        or group of the guest, and store it erased if so. `hold`: wait for an erasure of the guest
        in progress, and hold the next one off until this unit of work ends (for a new record; a
        change to a row read FOR UPDATE needs no hold, the row lock orders it)."""

    @abc.abstractmethod
    async def begin(self, guest_id: str, actor: str, now: datetime) -> tuple[datetime, list[str]]:
        """Marks the guest erased for good (the first erasure's time is kept), holds new bookings of
        the guest off until this unit of work ends, and locks the guest's groups and bookings:
        returns the first erasure's time and the guest's booking ids."""

    @abc.abstractmethod
    async def erase_records(self, guest_id: str, booking_ids: list[str]) -> ErasedRecords:
        """Erases the guest's groups and what else holds the bookings' personal data: history
        reasons, answers kept under idempotency keys, outbox events (sent or not), saga notes."""


class VenuePolicyStore(abc.ABC):
    """Venue policies (domain/venue_policy.py), changed one version at a time."""

    @abc.abstractmethod
    async def get(self, venue_id: str) -> VenuePolicy:
        """The venue's policy with its history, locked for this unit of work; an empty one
        (version 0) when the venue has none stored."""

    @abc.abstractmethod
    async def save(self, policy: VenuePolicy) -> None:
        """Stores the policy's change and its history if the stored row is still at
        `stored_version` (raises PolicyVersionMismatch otherwise)."""


class UnitOfWork(abc.ABC):
    bookings: BookingRepository
    venue_policies: VenuePolicyStore
    groups: GroupRepository
    idempotency: IdempotencyStore
    sagas: SagaLog
    erasures: GuestErasures

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    def __init__(self) -> None:
        #: The events of every commit of this unit of work, in the order they were raised.
        self.committed_events: list[Event] = []

    async def commit(self) -> None:
        """Commits the changes together with the events they raised (one transaction)."""
        raised = self.collect_new_events()
        await self._store_events(raised)
        await self._commit()
        self.committed_events.extend(event for event, _ in raised)

    @abc.abstractmethod
    async def _store_events(self, raised: list[tuple[Event, Booking]]) -> None:
        """Writes the events, each with the booking as it stands, in the transaction being committed."""

    @abc.abstractmethod
    async def _commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...

    def collect_new_events(self) -> list[tuple[Event, Booking]]:
        """The events raised by every booking this unit of work has seen, each once, in order."""
        raised: list[tuple[Event, Booking]] = []
        for booking in self.bookings.seen:
            raised.extend((event, booking) for event in booking.events)
            booking.events.clear()
        return raised
