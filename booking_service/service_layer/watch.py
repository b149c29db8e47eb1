"""WatchBookings: one shared reader of the outbox per process, fanned out to every watch stream.

The hub. One task per process holds one database session that LISTENs on the outbox channel (the
insert trigger NOTIFYs it, relay.py) and polls every `poll_interval` as a fallback (a listener
misses what is sent while it reconnects). On each wake it reads the rows that became final since
its cursor (adapters/outbox_watch.py; what "final" means and why no row is lost: domain/watch.py)
and offers each to the subscriptions of its venue and of its guest, without ever waiting for one.
N watchers cost one session and one read per change, not N.

A stream's life (`watch`):
1. Admission: at most `max_streams` streams per process; beyond, TooManyWatchers.
2. Its start: a start position below the purge horizon is refused (WatchPositionPurged, naming the
   horizon: the oldest position still complete); one past xmax was not written by this database
   (INVALID_ARGUMENT). No start position: the present. A heartbeat with that position goes first.
3. Catch-up: it subscribes (every row above the hub's cursor C at that moment will be offered to
   it), then reads its own scope's rows in (position, C] from the database, at the client's pace.
4. Live: the subscription's buffer, at most `buffer_events` changes. The hub never waits for a
   buffer. When one fills, it is dropped, and what happens depends on the client:
   - it took nothing for `stall` (1 s) around the time the buffer filled (the message being sent
     then waited that long: HTTP/2 flow control, or a full socket for server-sent events): it is
     too slow. The stream ends with WatcherTooSlow naming the position to resume from (the last
     change it was given), at once if it is not stuck in a send, else as soon as that send is
     done; nothing else waits for it, the dropped buffer is freed, and the hub and every other
     stream go on as before;
   - it was taking what it was given (a burst larger than the buffer, or changes that came while
     it caught up): the stream subscribes afresh and catches up from the database, at the
     client's own pace (so a reader that keeps reading, however slowly, holds at most one
     buffer's worth of changes in memory, read from the database in batches of that size).
5. Heartbeats: after `keepalive` without a message, one without an event, whose position is the
   hub's cursor (the buffer is empty, so every change of the scope up to it was given).
6. close(): every stream ends with WatchClosed (UNAVAILABLE, naming its position), so that a
   server's graceful stop does not wait for streams that would never end on their own.

No loss, no repeat: each change is given once, in position order: catch-up gives (position, C],
the subscription gives only rows above C, and a live change at or below the stream's position
(a client that resumed ahead of this process's hub) is skipped. A heartbeat's position is taken
with no await after checking that the buffer is empty and did not overflow (else a burst that
overflowed it meanwhile would be skipped by the heartbeat's position).

Memory: at most `buffer_events` changes per stream (its buffer, or one catch-up batch), so
WATCH_MAX_STREAMS x WATCH_BUFFER_EVENTS x the size of an event (about 1.5 KB) in all: 256 x 256
x 1.5 KB, about 100 MB, at the defaults, reached only if every stream is full at once.
Latency: a change waits for the transactions that began before it (a long transaction delays
the streams; it never makes them lose a change), then for the hub's next read (a NOTIFY, or the
poll): measured in process at a median of 2-3 ms from commit with 1 to 100 streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from booking_service.domain.errors import (
    FieldViolation,
    StorageUnavailable,
    TooManyWatchers,
    ValidationFailed,
    WatchClosed,
    WatcherTooSlow,
    WatchPositionPurged,
)
from booking_service.domain.watch import ORIGIN, Change, Head, Position, WatchScope

log = logging.getLogger("booking_service.watch")


@dataclass(frozen=True, slots=True)
class WatchSettings:
    #: A heartbeat after this long without a message (WATCH_KEEPALIVE_SECONDS).
    keepalive: timedelta = timedelta(seconds=15)
    #: Changes one stream may have waiting (WATCH_BUFFER_EVENTS); memory: about 2 KB each at most.
    buffer_events: int = 256
    #: Open streams per process (WATCH_MAX_STREAMS).
    max_streams: int = 256
    poll_interval: timedelta = timedelta(seconds=1)
    batch_size: int = 500
    #: A stream whose client took nothing for this long when its buffer filled is dropped.
    stall: timedelta = timedelta(seconds=1)
    #: How long a stream waits for the hub's first read before UNAVAILABLE.
    start_timeout: timedelta = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class WatchItem:
    """A change (its BookingEvent's bytes), or a heartbeat (no payload)."""

    position: Position
    payload: bytes | None = None


class ListeningSession(Protocol):
    async def read_new(self, after: Position, limit: int) -> tuple[list[Change], Position]: ...


class ChangeFeed(Protocol):
    def listening(self, on_notify: Callable[[], None]) -> AbstractAsyncContextManager[ListeningSession]: ...

    async def head(self) -> Head: ...

    async def read_scope(
        self, scope: WatchScope, after: Position, upto: Position, limit: int
    ) -> list[Change]: ...


class _Subscription:
    def __init__(self, scope: WatchScope, start: Position, capacity: int, stall: float) -> None:
        self.scope, self.start, self.capacity, self._stall = scope, start, capacity, stall
        self.queue: deque[Change] = deque()
        self.ready = asyncio.Event()
        #: Since when the stream has been handing one message to its client (None: it is not).
        self.sending_since: float | None = None
        #: None while the buffer has room; True: it filled while the client took nothing for
        #: `stall` seconds (too slow: dropped); False: it filled while the client was taking what
        #: it was given (a burst: the stream catches up from the database instead), unless the
        #: message being sent then takes `stall` in all (WatchHub._sent).
        self.overflowed: bool | None = None

    def offer(self, change: Change) -> None:
        if self.overflowed is not None:
            return
        if len(self.queue) >= self.capacity:
            since = self.sending_since
            self.overflowed = since is not None and time.monotonic() - since >= self._stall
            self.queue.clear()
        else:
            self.queue.append(change)
        self.ready.set()


class WatchHub:
    def __init__(self, feed: ChangeFeed, settings: WatchSettings | None = None) -> None:
        self._feed = feed
        self._settings = settings or WatchSettings()
        self._subscriptions: dict[WatchScope, set[_Subscription]] = {}
        self._cursor: Position | None = None
        self._has_cursor = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        #: Streams open now.
        self.streams = 0

    async def watch(self, scope: WatchScope, start: Position | None) -> AsyncIterator[WatchItem]:
        """The stream of `scope`'s changes after `start` (None: the present), with heartbeats."""
        if self.streams >= self._settings.max_streams:
            raise TooManyWatchers(self._settings.max_streams)
        self.streams += 1
        try:
            async for item in self._stream(scope, start):
                yield item
        finally:
            self.streams -= 1

    async def close(self) -> None:
        """Ends every stream (WatchClosed) and the hub's reader."""
        self._closed = True
        self._has_cursor.set()
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.ready.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _stream(self, scope: WatchScope, start: Position | None) -> AsyncIterator[WatchItem]:
        await self._started(start)
        head = await self._feed.head()
        position = head.now if start is None else _checked(start, head)
        yield WatchItem(position)
        batch = min(self._settings.batch_size, self._settings.buffer_events)  # memory: one buffer
        while True:
            subscription = self._subscribe(scope)
            try:
                while position < subscription.start and subscription.overflowed is None:
                    if self._closed:
                        raise WatchClosed(str(position))
                    changes = await self._feed.read_scope(scope, position, subscription.start, batch)
                    for change in changes:
                        position = change.position
                        subscription.sending_since = time.monotonic()
                        yield WatchItem(position, change.payload)
                        self._sent(subscription, position)
                    if len(changes) < batch:
                        position = subscription.start
                if subscription.overflowed is None:
                    async for item in self._live(subscription, position):
                        position = item.position
                        subscription.sending_since = time.monotonic()
                        yield item
                        self._sent(subscription, position)
                if subscription.overflowed:
                    raise WatcherTooSlow(subscription.capacity, str(position))
                # A burst filled the buffer: subscribe afresh and catch up from the database.
            finally:
                self._unsubscribe(subscription)

    def _sent(self, subscription: _Subscription, position: Position) -> None:
        """After the client took a message: WatcherTooSlow if the buffer filled meanwhile and the
        client had taken nothing for `stall` (the hub saw the overflow; only now can it be told)."""
        since, subscription.sending_since = subscription.sending_since, None
        stalled = since is not None and time.monotonic() - since >= self._settings.stall.total_seconds()
        if subscription.overflowed is not None and stalled:
            subscription.overflowed = True
        if subscription.overflowed:
            raise WatcherTooSlow(subscription.capacity, str(position))

    async def _live(self, subscription: _Subscription, position: Position) -> AsyncIterator[WatchItem]:
        """The subscription's changes and heartbeats, until it overflows (or the hub closes)."""
        keepalive = self._settings.keepalive.total_seconds()
        last = time.monotonic()
        while True:
            while subscription.queue:
                change = subscription.queue.popleft()
                if change.position > position:
                    position = change.position
                    yield WatchItem(position, change.payload)
                    last = time.monotonic()
            if subscription.overflowed is not None:
                return
            if self._closed:
                raise WatchClosed(str(position))
            idle = time.monotonic() - last
            if idle >= keepalive:
                # Decided with no await since the checks above: the buffer is empty and whole, so
                # every change of the scope up to the hub's cursor was given.
                assert self._cursor is not None
                position = max(position, self._cursor)
                yield WatchItem(position)
                last = time.monotonic()
                continue
            subscription.ready.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(keepalive - idle):
                    await subscription.ready.wait()

    async def _started(self, start: Position | None) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="watch-hub")
        try:
            async with asyncio.timeout(self._settings.start_timeout.total_seconds()):
                await self._has_cursor.wait()
        except TimeoutError:
            raise StorageUnavailable("The change feed cannot read the database; retry shortly.") from None
        if self._closed:
            raise WatchClosed(str(start or ORIGIN))

    def _subscribe(self, scope: WatchScope) -> _Subscription:
        assert self._cursor is not None
        subscription = _Subscription(
            scope, self._cursor, self._settings.buffer_events, self._settings.stall.total_seconds()
        )
        self._subscriptions.setdefault(scope, set()).add(subscription)
        return subscription

    def _unsubscribe(self, subscription: _Subscription) -> None:
        subscriptions = self._subscriptions.get(subscription.scope)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscriptions[subscription.scope]

    async def _run(self) -> None:
        backoff = 0.5
        poll = self._settings.poll_interval.total_seconds()
        while not self._closed:
            try:
                async with self._feed.listening(self._wake.set) as session:
                    backoff = 0.5
                    while True:
                        self._wake.clear()
                        if not await self._round(session):
                            with contextlib.suppress(TimeoutError):
                                async with asyncio.timeout(poll):
                                    await self._wake.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "the watch feed lost its database session; reconnecting", extra={"in_seconds": backoff}
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _round(self, session: ListeningSession) -> bool:
        """One read; True when a full batch came back (there may be more at once)."""
        after = self._cursor
        if after is None or not self._subscriptions:
            _, now = await session.read_new(after or ORIGIN, 0)
            if after is None or not self._subscriptions:  # (else a stream subscribed meanwhile)
                self._cursor = max(after or ORIGIN, now)
                self._has_cursor.set()
                return False
        assert after is not None
        changes, now = await session.read_new(after, self._settings.batch_size)
        for change in changes:  # from here to the cursor's move, no await: subscriptions see all
            if change.venue_id is not None:
                for subscription in self._subscriptions.get(WatchScope(venue_id=change.venue_id), ()):
                    subscription.offer(change)
            if change.guest_id is not None:
                for subscription in self._subscriptions.get(WatchScope(guest_id=change.guest_id), ()):
                    subscription.offer(change)
            self._cursor = change.position
        if len(changes) < self._settings.batch_size:
            self._cursor = max(changes[-1].position if changes else after, now)
            return False
        return True


def _checked(start: Position, head: Head) -> Position:
    if start < head.horizon:
        raise WatchPositionPurged(str(start), str(head.horizon))
    if start.xid > head.xmax:
        raise ValidationFailed(
            [
                FieldViolation(
                    "start_position",
                    "is past every change of this service's database: send back a position as received",
                )
            ]
        )
    return start
