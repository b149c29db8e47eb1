"""Domain errors: what can go wrong with a booking, each with a stable reason.

BookingError
 ├── ValidationFailed        the request breaks field rules (lists every violation)
 │    └── VenueZoneConflict  a create names a zone other than the venue policy's
 ├── BookingNotFound         no booking with that id or reference
 │    └── GroupNotFound       no booking group with that id
 ├── VersionMismatch         expected_version is stale (carries the current version)
 │    └── PolicyVersionMismatch  the same, of a venue policy
 │    └── GroupVersionMismatch  the same, of a booking group
 ├── InvalidTransition       the state machine does not allow the change (names the current status)
 │    └── PaymentRequired     a booking paid up front is confirmed only with its payment taken
 ├── TransitionTooEarly      an allowed transition whose time has not come (expiry, no-show)
 ├── BookingClosed           a booking in a final status cannot be edited
 ├── AwaitingOperator        the booking waits for an operator to settle a saga of its first
 ├── UnitUnavailable         another active booking (or the inventory) holds the unit over an
 │                           overlapping time, turnover buffers included (domain/unit_conflicts.py)
 ├── IdempotencyKeyReused    the key was used with a different request
 ├── IdempotencyKeyInProgress  the first request with the key is still running
 ├── InvalidPageToken        the page token is malformed or belongs to other filters
 ├── Contention              another change to the booking is under way, or the database gave up
 │                           waiting for a lock; retry
 ├── StorageUnavailable      the database cannot be reached
 ├── SoldOut                 the inventory service has no room for the stay
 ├── PaymentDeclined         the payment service refused to take the payment
 ├── PriceChanged            a change to a prepaid booking would change what was paid
 ├── PeerRejected            a peer refused a request as malformed (a bug on one side)
 ├── PeerUnavailable         a peer did not answer in time, failed, or its circuit is open
 ├── WatchPositionPurged     a watch's start position is older than what the outbox still keeps
 ├── WatcherTooSlow          a watcher fell further behind than its buffer (resume from a position)
 ├── TooManyWatchers         this process serves as many watch streams as it may
 └── WatchClosed             the server stops: the watch ends (resume from a position elsewhere)

`transient` says whether trying the same thing again later may succeed: True only for
PeerUnavailable (a peer's transient failure, DESIGN.md "Peer errors have two kinds"); a peer's
permanent answer (PeerRejected, SoldOut, UnitUnavailable, PaymentDeclined) is False.

Transports translate these through one table (entrypoints/grpc/errors.py); the domain never knows
about status codes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One broken field rule; `field` is the request field's path (`guest.email`)."""

    field: str
    description: str


class BookingError(Exception):
    reason: str = "BOOKING_ERROR"
    #: Whether the same request may succeed later unchanged (see the module docstring).
    transient: bool = False

    def __init__(self, message: str, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = metadata or {}


#: The most violations one refusal lists, and the longest field path and description it quotes: a
#: request that repeats a bad value (400,000 update_mask paths, say) gets a small answer, cheap to
#: build, that fits in gRPC's trailing metadata (16 KiB by default on the client).
MAX_VIOLATIONS = 20
_MAX_FIELD, _MAX_DESCRIPTION = 128, 300


class ValidationFailed(BookingError):
    reason = "INVALID_REQUEST"

    def __init__(self, violations: list[FieldViolation]) -> None:
        """`violations` in the order found; the same one twice is listed once, and past
        MAX_VIOLATIONS the message says how many more there were."""
        unique = list(dict.fromkeys(_bounded(v) for v in violations))
        listed, more = unique[:MAX_VIOLATIONS], len(unique) - MAX_VIOLATIONS
        fields = ", ".join(dict.fromkeys(v.field for v in listed))
        super().__init__(
            f"The request is invalid: check {fields}" + (f" (and {more} more problems)." if more > 0 else ".")
        )
        self.violations = listed


def _bounded(violation: FieldViolation) -> FieldViolation:
    field, description = violation.field, violation.description
    if len(field) <= _MAX_FIELD and len(description) <= _MAX_DESCRIPTION:
        return violation
    return FieldViolation(field[:_MAX_FIELD], description[: _MAX_DESCRIPTION - 3] + "...")


class BookingNotFound(BookingError):
    reason = "BOOKING_NOT_FOUND"


class VersionMismatch(BookingError):
    reason = "VERSION_MISMATCH"

    def __init__(self, booking_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"Booking {booking_id} is at version {current}, not {expected}: "
            "read it again and retry with its current version.",
            {"booking_id": booking_id, "expected_version": str(expected), "current_version": str(current)},
        )
        self.current_version = current


class GroupNotFound(BookingNotFound):
    reason = "BOOKING_GROUP_NOT_FOUND"


class GroupVersionMismatch(VersionMismatch):
    def __init__(self, group_id: str, expected: int, current: int) -> None:
        BookingError.__init__(
            self,
            f"Booking group {group_id} is at version {current}, not {expected}: "
            "read it again and retry with its current version.",
            {"group_id": group_id, "expected_version": str(expected), "current_version": str(current)},
        )
        self.current_version = current


class InvalidTransition(BookingError):
    reason = "INVALID_TRANSITION"


class PaymentRequired(InvalidTransition):
    reason = "PAYMENT_REQUIRED"


class TransitionTooEarly(BookingError):
    reason = "TRANSITION_TOO_EARLY"


class BookingClosed(BookingError):
    reason = "BOOKING_CLOSED"


class AwaitingOperator(BookingError):
    reason = "AWAITING_OPERATOR"


class UnitUnavailable(BookingError):
    reason = "UNIT_UNAVAILABLE"


class IdempotencyKeyReused(BookingError):
    reason = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyKeyInProgress(BookingError):
    reason = "IDEMPOTENCY_KEY_IN_PROGRESS"


class InvalidPageToken(BookingError):
    reason = "INVALID_PAGE_TOKEN"


class Contention(BookingError):
    reason = "CONTENTION"

    @classmethod
    def busy(cls, booking_id: str) -> Contention:
        """Another change to the booking's money or hold is under way (one at a time per booking);
        nothing was done for this request."""
        return cls(
            f"Another change to booking {booking_id} is under way; nothing was done. Retry shortly.",
            {"booking_id": booking_id},
        )


class StorageUnavailable(BookingError):
    reason = "STORAGE_UNAVAILABLE"


class SoldOut(BookingError):
    reason = "SOLD_OUT"


class PaymentDeclined(BookingError):
    reason = "PAYMENT_DECLINED"


class PeerRejected(BookingError):
    reason = "PEER_REJECTED"


class PeerUnavailable(BookingError):
    reason = "PEER_UNAVAILABLE"
    transient = True


class PriceChanged(BookingError):
    reason = "PRICE_CHANGED"


class PolicyVersionMismatch(VersionMismatch):
    """A venue policy's expected_version is stale (0 when the venue has none stored yet)."""

    def __init__(self, venue_id: str, expected: int, current: int) -> None:
        BookingError.__init__(
            self,
            f"The policy of venue {venue_id} is at version {current}, not {expected}: "
            "read it again and retry with its current version.",
            {"venue_id": venue_id, "expected_version": str(expected), "current_version": str(current)},
        )
        self.current_version = current


class VenueZoneConflict(ValidationFailed):
    """A create names a venue time zone other than the one the venue's policy sets."""

    def __init__(self, given: str, policy_zone: str, venue_id: str) -> None:
        super().__init__(
            [
                FieldViolation(
                    "venue.time_zone",
                    f"is {given}, but the policy of venue {venue_id} sets its time zone to "
                    f"{policy_zone}: leave it out or name {policy_zone}",
                )
            ]
        )


class WatchPositionPurged(BookingError):
    """The changes after a watch's start position are no longer all kept (domain/watch.py)."""

    reason = "WATCH_POSITION_PURGED"

    def __init__(self, position: str, oldest: str) -> None:
        super().__init__(
            f"Position {position} is older than the changes this service still keeps: some after it "
            f"were purged. Read the bookings again, then watch from position {oldest} or from the present.",
            {"start_position": position, "oldest_position": oldest},
        )


class WatcherTooSlow(BookingError):
    reason = "WATCHER_TOO_SLOW"

    def __init__(self, behind: int, position: str) -> None:
        super().__init__(
            f"The watcher fell more than {behind} events behind and was dropped; "
            f"resume from position {position}.",
            {"buffer_events": str(behind), "resume_position": position},
        )


class TooManyWatchers(BookingError):
    reason = "TOO_MANY_WATCHERS"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This server already serves {limit} watch streams (WATCH_MAX_STREAMS); retry later or "
            "on another replica.",
            {"max_streams": str(limit)},
        )


class WatchClosed(BookingError):
    reason = "WATCH_CLOSED"
    transient = True

    def __init__(self, position: str) -> None:
        super().__init__(
            f"The server is stopping; resume from position {position}.", {"resume_position": position}
        )
