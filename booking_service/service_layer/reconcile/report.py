"""What a reconciliation run found and what --fix did about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from booking_service.service_layer.reconcile.drifts import Drift


@dataclass
class Report:
    since: timedelta
    #: Bookings compared with the peers (a group's items each count; the group itself does not).
    checked: int = 0
    in_flight: int = 0
    drifts: list[Drift] = field(default_factory=list)
    #: booking (or group) id -> what --fix did about its drifts ("fixed", or why not).
    fixes: dict[str, str] = field(default_factory=dict)
    #: The groups of the items checked: their shared intent is compared once, at the end.
    groups: set[str] = field(default_factory=set)

    def fixed(self, owner: str, outcome: str) -> None:
        """Records what --fix did for `owner`; a failure already recorded for it is kept."""
        if self.fixes.get(owner, "fixed") == "fixed":
            self.fixes[owner] = outcome
