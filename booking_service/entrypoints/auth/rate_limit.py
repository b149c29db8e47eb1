"""Per-caller rate limits: a token bucket per caller, refilled continuously.

In memory and per process: with --workers N or several replicas each enforces its own share, which
bounds what one caller can take from one process (the point: one noisy client cannot starve the
rest). Idle buckets are forgotten so that the table does not grow with every caller ever seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_FORGET_AFTER_SECONDS = 300.0
_SWEEP_EVERY = 1024


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._clock = per_second, float(burst), clock
        self._buckets: dict[str, _Bucket] = {}
        self._calls = 0

    def take(self, key: str) -> float:
        """0 if the call may go ahead (and counts it), else the seconds until it may."""
        now = self._clock()
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            self._forget_idle(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate

    def wait(self, key: str) -> float:
        """The seconds until `key` may make a call, without counting one (0: it may now)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self._burst, bucket.tokens + (self._clock() - bucket.updated) * self._rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, b in self._buckets.items() if now - b.updated > _FORGET_AFTER_SECONDS]
        for key in idle:
            del self._buckets[key]
