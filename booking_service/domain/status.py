"""The booking status state machine: the one table of allowed transitions."""

from __future__ import annotations

import enum


class BookingStatus(enum.Enum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    CHECKED_IN = "CHECKED_IN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"
    EXPIRED = "EXPIRED"


S = BookingStatus

#: Every allowed transition; anything not listed here is refused.
TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.CANCELLED, S.EXPIRED}),
    S.CONFIRMED: frozenset({S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    S.CHECKED_IN: frozenset({S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
    S.EXPIRED: frozenset(),
}

#: Statuses in which a booking holds its unit (the database's no-double-booking rule uses the same set).
ACTIVE: frozenset[BookingStatus] = frozenset({S.PENDING, S.CONFIRMED, S.CHECKED_IN})

#: Statuses a booking never leaves.
TERMINAL: frozenset[BookingStatus] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


def can_transition(current: BookingStatus, target: BookingStatus) -> bool:
    return target in TRANSITIONS[current]
