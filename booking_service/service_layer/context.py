"""What the use cases run with: units of work, the read side, the clock, the policy, the peers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from booking_service.service_layer.peers import Peers
from booking_service.service_layer.policy import Clock, Policy
from booking_service.service_layer.reads import BookingReads
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
