"""The saga log: one record per saga, with its step and what it learned so far."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RUNNING, DONE, COMPENSATED = "running", "done", "compensated"
#: Given up on: a peer refused a step for good, or it kept failing past the budget; an operator
#: retries it (back to running) or resolves it (booking-service sagas).
NEEDS_ATTENTION, RESOLVED = "needs_attention", "resolved"
STATUSES = (RUNNING, DONE, COMPENSATED, NEEDS_ATTENTION, RESOLVED)


@dataclass(slots=True)
class Saga:
    saga_id: str
    booking_id: str
    kind: str  # create, confirm, update, expire, release
    lease_until: datetime
    created_at: datetime
    status: str = RUNNING
    step: str = "started"
    data: dict[str, Any] = field(default_factory=dict)
    #: Bumped each time the saga changes hands (a recovery takes it over): a fencing token, so a
    #: stalled first owner cannot finish a saga someone else is compensating.
    attempts: int = 0
    error: str = ""


class SagaLog(abc.ABC):
    @abc.abstractmethod
    async def add(self, saga: Saga) -> None: ...

    @abc.abstractmethod
    async def save(self, saga: Saga, now: datetime) -> None:
        """Stores the saga's step, data and status, if nobody took it over since it was read
        (raises SagaTakenOver otherwise). A saga that stops running lets go of its booking (the
        booking's saga_id), so save the booking first when both change in one unit of work."""

    @abc.abstractmethod
    async def get(self, saga_id: str, *, settled: bool = False) -> Saga | None:
        """The saga as stored; `settled`: once no other transaction is writing it (a transaction
        still committing a change to it is waited for, then its outcome read), the row locked
        against writers for this unit of work."""

    @abc.abstractmethod
    async def listing(self, statuses: tuple[str, ...], booking_id: str | None, limit: int) -> list[Saga]:
        """Sagas in one of the statuses (of one booking, if given), the latest changed first."""

    @abc.abstractmethod
    async def unfinished_creates(self, since: datetime, limit: int) -> list[Saga]:
        """Create sagas (of a booking, or of a booking group) started at or after `since` that did not
        store what they made (compensated, needing attention, or still running): the bookings the
        peers may know and we do not."""

    @abc.abstractmethod
    async def reopen(self, saga: Saga, now: datetime) -> None:
        """Runs a saga that needs attention again: running, due for recovery now, with a fresh
        budget of attempts (raises SagaTakenOver if it no longer needs attention)."""

    @abc.abstractmethod
    async def resolve(self, saga: Saga, note: str, now: datetime) -> None:
        """Marks a saga that needs attention as settled by an operator, with their note (raises
        SagaTakenOver if it no longer needs attention)."""

    @abc.abstractmethod
    async def take_over_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Saga]:
        """Running sagas whose lease has run out, now leased to the caller (attempts + 1)."""


class SagaTakenOver(Exception):
    """The saga's lease ran out and the recovery worker took it over; its first owner stops."""

    def __init__(self, saga_id: str) -> None:
        super().__init__(saga_id)
        self.saga_id = saga_id
