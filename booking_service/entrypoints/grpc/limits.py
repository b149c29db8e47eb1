"""Limits on the calls in flight: a default deadline for calls that bring none, and a cap on how many
run at once, above which calls are shed with UNAVAILABLE at once rather than queued without bound."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from booking_service.config import Settings
from booking_service.entrypoints.auth.refusal import CallRefused

#: A deadline further away than this is no deadline (grpc reports "none" as a huge number).
_NO_DEADLINE_SECONDS = 1e6


@dataclass(slots=True)
class CallLimits:
    default_deadline_seconds: float = 30.0
    max_in_flight: int = 512
    in_flight: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> CallLimits:
        return cls(settings.default_deadline.total_seconds(), settings.max_concurrent_calls)

    def deadline(self, time_remaining: float | None) -> float:
        """Seconds the call may take: its own deadline, or the default when it brought none."""
        if time_remaining is None or time_remaining > _NO_DEADLINE_SECONDS:
            return self.default_deadline_seconds
        return max(time_remaining, 0.0)

    def enter(self) -> None:
        if self.in_flight >= self.max_in_flight:
            raise CallRefused(
                grpc.StatusCode.UNAVAILABLE,
                "OVERLOADED",
                f"The service is at its limit of {self.max_in_flight} calls in flight; retry shortly.",
                retry_after=1.0,
            )
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1
