"""The caller of the current call, as authentication established it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

READ = "bookings.read"
WRITE = "bookings.write"
OPERATE = "bookings.operate"
#: Changing a venue's booking rules (UpdateVenuePolicy).
MANAGE_VENUES = "venues.manage"
#: Erasing a guest's personal data (EraseGuestData): irreversible, and no booking flow needs it.
ERASE_GUESTS = "guests.erase"
ALL_SCOPES = frozenset({READ, WRITE, OPERATE, MANAGE_VENUES, ERASE_GUESTS})


@dataclass(frozen=True, slots=True)
class Caller:
    """`subject` becomes the actor of every history row the call causes. `expires_at`: when the
    credential stops admitting calls (a token's `exp` plus the leeway, as a Unix time), or None
    when it does not expire; a stream it opened ends then (lifetime.py)."""

    subject: str
    scopes: frozenset[str]
    authenticated: bool
    expires_at: float | None = None


ANONYMOUS = Caller("anonymous", ALL_SCOPES, authenticated=False)

#: Set by the interceptor for the duration of a call; read by the servicer to name the actor.
caller_var: ContextVar[Caller] = ContextVar("caller", default=ANONYMOUS)
