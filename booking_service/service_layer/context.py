"""What the use cases run with: units of work, the read side, the clock, the policy, the peers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from booking_service.service_layer.peers import Peers
from booking_service.service_layer.policy import Clock, Policy
from booking_service.service_layer.reads import BookingReads
from booking_service.service_layer.search_inventory import InventoryChecks
from booking_service.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Context:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    policy: Policy
    peers: Peers
    reads: BookingReads
    #: How long a saga may run before the recovery worker may take it over (longer than the
    #: slowest saga with every peer call timing out and retried).
    saga_lease: timedelta = timedelta(seconds=60)
    #: How many times the recovery worker takes a saga over before it gives up on it (the saga
    #: then needs an operator); with the growing pause between tries (2, 4, ... 60 s), 12 tries
    #: span about 8 minutes.
    saga_max_attempts: int = 12
    #: The inventory's checks as SearchAvailableSlots reads them, kept for a few seconds
    #: (search_inventory.py); None: it asks `peers.inventory` itself, as every other use case does.
    search_checks: InventoryChecks | None = None
