"""Reading and changing a venue's booking rules (GetVenuePolicy, UpdateVenuePolicy).

A change is one transaction: the policy row, locked, changed from the version the caller names
(PolicyVersionMismatch otherwise), and its history row. Bookings already made keep the rules they
were made under (Booking.rules); the next create at the venue reads the new ones (venue_rules.py).
"""

from __future__ import annotations

from booking_service.domain.commands import UpdateVenuePolicy
from booking_service.domain.validation import Violations
from booking_service.domain.venue_policy import VenuePolicy
from booking_service.service_layer.context import Context


async def get_venue_policy(venue_id: str, *, ctx: Context) -> VenuePolicy:
    """The venue's policy with its history (version 0 and no history when none is stored);
    ValidationFailed for a malformed venue id."""
    v = Violations()
    v.identifier("venue_id", venue_id)
    v.raise_if_any()
    return await ctx.reads.venue_policy(venue_id, with_history=True)


async def update_venue_policy(cmd: UpdateVenuePolicy, *, ctx: Context) -> VenuePolicy:
    """Applies the change and answers the policy with its history; raises ValidationFailed (naming
    `policy.<field>`) or PolicyVersionMismatch. A change that changes nothing keeps the version."""
    v = Violations(cmd.unreadable)
    v.identifier("venue_id", cmd.venue_id)
    if cmd.expected_version < 0:
        v.add("expected_version", "must be a version, 0 or more (0: the venue has no policy stored yet)")
    v.raise_if_any()
    uow = ctx.uow()
    async with uow:
        policy = await uow.venue_policies.get(cmd.venue_id)
        policy.change(cmd.values, cmd.paths, cmd.expected_version, cmd.actor, ctx.clock(), ctx.policy.limits)
        await uow.venue_policies.save(policy)
        await uow.commit()
    return policy
