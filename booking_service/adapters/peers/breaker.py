"""A circuit breaker per peer: after `failures_to_open` failed calls in a row it opens and calls fail
fast; after `open_seconds` one trial call goes through (half-open), and its outcome closes or
reopens the circuit.

A call holds a Pass for its whole life (all its attempts: one logical call counts once) and gives
it back by leaving its `with` block, whatever ends it: an outcome recorded with `succeeded()` or
`failed()` counts; no outcome (the call was cancelled, or raised an exception that says nothing
about the peer) counts for nothing, but the trial is given back all the same, so the next call
becomes the trial. The trial can therefore never leak and leave the circuit open for good.

Written here rather than taken from a library (read: purgatory 3.0.1, aiobreaker 1.2.0, pybreaker
1.4.1): purgatory counts any exception, CancelledError included, as a failure and lets every call
through once half-open, on the wall clock; aiobreaker leaves a cancelled call uncounted but also lets
every call through while half-open; pybreaker's asyncio support needs tornado and counts
BaseException. The state machine wanted (exactly one trial, a cancelled call neutral, a monotonic
clock, a state for the metrics gauge) is the forty lines below.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType


class CircuitOpen(Exception):
    """The circuit is open (or its one trial is already running): the call must not go out."""


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures_to_open: int = 5,
        open_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`failures_to_open`: failed calls in a row that open the circuit; `open_seconds`: how long
        it stays open before a trial; `clock`: seconds, monotonic."""
        self._failures_to_open = failures_to_open
        self._open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        """`closed`, `open` or `half_open` (the metrics gauge's values, observability/metrics.py)."""
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self._open_seconds else "open"

    def enter(self) -> Pass:
        """A pass for one call; raises CircuitOpen when the call must not go out now."""
        state = self.state
        if state == "closed":
            return Pass(self, trial=False)
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return Pass(self, trial=True)
        raise CircuitOpen()

    def _record(self, trial: bool, ok: bool | None) -> None:
        if trial:
            self._trial_running = False
        if ok is None:
            return
        if ok:
            self._failures, self._opened_at = 0, None
            return
        self._failures += 1
        if trial or (self._opened_at is None and self._failures >= self._failures_to_open):
            self._opened_at = self._clock()


class Pass:
    """One call's place in the breaker; `with` it, and record its outcome before leaving."""

    __slots__ = ("_breaker", "_ok", "trial")

    def __init__(self, breaker: CircuitBreaker, *, trial: bool) -> None:
        self._breaker, self.trial = breaker, trial
        self._ok: bool | None = None

    def succeeded(self) -> None:
        """The peer answered (a 2xx, or a 4xx that is an answer about the request)."""
        self._ok = True

    def failed(self) -> None:
        """The peer failed the call (after all its attempts)."""
        self._ok = False

    def __enter__(self) -> Pass:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._breaker._record(self.trial, self._ok)
