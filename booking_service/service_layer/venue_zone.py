"""The venue's time zone a request runs with: the one rule for it (DESIGN.md, "Venue time zone").

A venue whose policy sets a time zone (domain/venue_policy.py) has that zone: a create that leaves
`venue.time_zone` out gets it, one that names another is refused naming both (VenueZoneConflict).
Otherwise a create may leave `venue.time_zone` out, as the seed's venue (id, type, name) does. The
zone is then:

1. the zone this service last recorded for the venue: the zone of the venue's most recently created
   booking (latest `create_time`, then highest booking id; whatever its status, a cancelled booking
   recorded the zone all the same). A booking's zone is fixed when it is created and never changes,
   so "recorded" means "written with a booking"; a create that named a zone records it, and one
   that named none records the zone it was given, so the next create without one follows it;
2. else `Policy.default_venue_time_zone` (the setting DEFAULT_VENUE_TIME_ZONE, UTC unless set).

A zone the caller names is used as named (validated as an IANA zone by domain/validation.py).
The booking carries the zone used, so every answer and event shows it, and everything after the
create reads it from the booking: a reschedule, `local_start_date` and the venue's local day in
lists, the hotel no-show deadline of the sweeper, the pricing of a reschedule. An availability
check names no zone: it asks the peers with the venue's zone by the same rule.

Idempotency compares requests as sent (service_layer/idempotency.py): a create that left the zone
out is the same request when replayed without it, even if the venue's recorded zone has changed
since (the first answer comes back, with the zone it was given); a replay that names a zone is
another request (IDEMPOTENCY_KEY_REUSED), as a replay with any other field changed would be.
"""

from __future__ import annotations

from booking_service.domain.errors import VenueZoneConflict
from booking_service.domain.validation import Violations
from booking_service.service_layer.context import Context
from booking_service.service_layer.venue_rules import VenueRules, rules_for, rules_in


async def venue_time_zone(venue_id: str, given: str, *, ctx: Context, rules: VenueRules | None = None) -> str:
    """The IANA zone to use for the venue: the zone its policy sets (`rules`, read when not given),
    else `given` when the caller named one ("" when it did not), else the zone last recorded for
    the venue, else the default. Raises VenueZoneConflict when `given` differs from the policy's
    zone, or what the read side raises (a database error)."""
    rules = rules if rules is not None else await rules_for(ctx, venue_id)
    if rules.time_zone:
        if given and given != rules.time_zone:
            raise VenueZoneConflict(given, rules.time_zone, venue_id)
        return rules.time_zone
    if given:
        return given
    recorded = await ctx.reads.recorded_time_zone(venue_id)
    return recorded or ctx.policy.default_venue_time_zone


async def rules_and_zone(venue_id: str, *, ctx: Context) -> tuple[VenueRules, str]:
    """rules_for the venue and its venue_time_zone when the caller names none, from one read (the
    policy and the zone last recorded, BookingReads.venue_policy_and_zone) instead of two. Raises
    what the read side raises (a database error)."""
    malformed = Violations()
    malformed.identifier("venue_id", venue_id)
    if malformed.items:  # no read: as rules_for answers it
        rules = await rules_for(ctx, venue_id)
        return rules, await venue_time_zone(venue_id, "", ctx=ctx, rules=rules)
    policy, recorded = await ctx.reads.venue_policy_and_zone(venue_id)
    rules = rules_in(ctx, venue_id, policy)
    return rules, rules.time_zone or recorded or ctx.policy.default_venue_time_zone
