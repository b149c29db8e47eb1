"""Positions in the stream of committed booking changes, and what a watch asks for.

What a position is. Each outbox row keeps the id of the transaction that wrote it (`xid`, the 64-bit
`pg_current_xact_id()`, which never wraps) besides its `id` (a sequence value taken at insert). A
position is the pair (xid, id), ordered as a pair. Ids alone will not do: ids are taken at insert but
transactions commit in any order, so a reader that resumes "after id 41" misses row 40 if row 40's
transaction commits after row 41 was read. The pair does better only together with the rule of
when a row may be streamed (adapters/outbox_watch.py): only once its transaction is older than every
transaction still in progress (`xid < pg_snapshot_xmin(pg_current_snapshot())`). The xmin of later
snapshots never falls, and a transaction that has not yet written gets an xid above the newest
handed out, so once a reader read every row below xmin X, every row still to come has xid >= X:
its position is above every position streamed so far. Streaming in position order therefore never
leaves a row behind a position already streamed, and "after position P" is exact: no loss and no
repeat across reconnects. The price: a change waits to be streamed until the transactions that
began before it ended (a long transaction delays the stream; it never loses from it).

`(X, 0)` is also a position: "every row below xmin X". Heartbeats carry it, so an idle stream's
position moves on and a client that saw no event still has a recent place to resume from.

To clients a position is an opaque string (`"<xid>.<id>"` today); they store it and send it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from booking_service.domain.errors import FieldViolation, ValidationFailed
from booking_service.domain.validation import MAX_ID_LENGTH

_TEXT = re.compile(r"([0-9]{1,19})\.([0-9]{1,19})")
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True, slots=True, order=True)
class Position:
    xid: int
    id: int

    def __str__(self) -> str:
        return f"{self.xid}.{self.id}"

    @classmethod
    def parse(cls, text: str, field: str = "start_position") -> Position:
        """A position a client sent back; ValidationFailed when it is not one this service wrote."""
        found = _TEXT.fullmatch(text)
        if found is None or max(int(found[1]), int(found[2])) > _INT64_MAX:
            raise ValidationFailed(
                [
                    FieldViolation(
                        field, "is not a position this service wrote: send back a `position` as received"
                    )
                ]
            )
        return cls(int(found[1]), int(found[2]))


#: Before every position (the outbox purged nothing yet).
ORIGIN = Position(0, 0)


@dataclass(frozen=True, slots=True)
class WatchScope:
    """Whose changes a watch streams: one venue's or one guest's (exactly one is set)."""

    venue_id: str = ""
    guest_id: str = ""

    @classmethod
    def of(cls, venue_id: str, guest_id: str) -> WatchScope:
        if bool(venue_id) == bool(guest_id):
            raise ValidationFailed(
                [
                    FieldViolation(name, "set exactly one of venue_id and guest_id")
                    for name in ("venue_id", "guest_id")
                ]
            )
        for name, value in (("venue_id", venue_id), ("guest_id", guest_id)):
            if len(value) > MAX_ID_LENGTH:
                raise ValidationFailed([FieldViolation(name, f"must be at most {MAX_ID_LENGTH} characters")])
        return cls(venue_id, guest_id)

    def matches(self, venue_id: str | None, guest_id: str | None) -> bool:
        if self.venue_id:
            return venue_id == self.venue_id
        return guest_id == self.guest_id


@dataclass(frozen=True, slots=True)
class Change:
    """One committed outbox row: its position, whose booking it is, and the BookingEvent's bytes."""

    position: Position
    venue_id: str | None
    guest_id: str | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class Head:
    """The present ((xmin, 0)), the purge horizon, and xmax: no position written here lies past it."""

    now: Position
    horizon: Position
    xmax: int
