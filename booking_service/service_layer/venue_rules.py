"""The rules for a venue: the one place they are obtained (`rules_for`), for a create, a reschedule
of a booking made before rules were frozen, an availability check, a slot search, a booking group.

They are the venue's stored policy (domain/venue_policy.py) over the BOOKING_* settings
(`Policy.limits`): each limit names its source (the venue's policy and its version, or the
setting) so that a refusal says which rule said no. A booking freezes the limits it was made under
(`Booking.rules`); `rules_of` gives those back for judging a change of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from booking_service.domain.limits import BookingLimits
from booking_service.domain.model import Booking
from booking_service.domain.validation import Violations
from booking_service.domain.venue_policy import VenuePolicy
from booking_service.service_layer.context import Context


@dataclass(frozen=True, slots=True)
class VenueRules:
    venue_id: str
    #: The limits in force (durations as timedeltas, party sizes in people, the turnover buffers),
    #: each with its source.
    limits: BookingLimits
    #: The IANA zone the venue's policy sets, "" when it sets none (venue_zone.py then decides).
    time_zone: str
    #: The version of the venue's stored policy; 0 when it has none (the settings alone).
    policy_version: int


async def rules_for(ctx: Context, venue_id: str) -> VenueRules:
    """The rules in force at the venue now. One indexed read (no transaction); none for an id no
    venue can have (empty, too long, control characters: the request is refused by its
    validation, with the settings' rules). Raises what the read side raises (a database error)."""
    malformed = Violations()
    malformed.identifier("venue_id", venue_id)
    if malformed.items:
        return VenueRules(venue_id, ctx.policy.limits, "", 0)
    return rules_in(ctx, venue_id, await ctx.reads.venue_policy(venue_id))


def rules_in(ctx: Context, venue_id: str, policy: VenuePolicy) -> VenueRules:
    """The rules the venue's stored policy (read by the caller) sets over the settings."""
    return VenueRules(venue_id, policy.limits(ctx.policy.limits), policy.time_zone, policy.version)


async def rules_of(ctx: Context, booking: Booking) -> BookingLimits:
    """The limits that judge a change of the booking: those frozen when it was made, or for a
    booking made before rules were frozen, its venue's rules now."""
    if booking.rules is not None:
        return booking.rules
    return (await rules_for(ctx, booking.venue.venue_id)).limits
