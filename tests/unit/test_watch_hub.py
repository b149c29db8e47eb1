"""The watch hub's buffers on a fake change feed: a burst larger than a stream's buffer is caught
up from the feed (nothing lost), a client that stopped taking messages is dropped naming where to
resume, and a heartbeat's position moves on with the hub (service_layer/watch.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from booking_service.domain.errors import WatcherTooSlow
from booking_service.domain.watch import ORIGIN, Change, Head, Position, WatchScope
from booking_service.service_layer.watch import WatchHub, WatchItem, WatchSettings

VENUE = WatchScope(venue_id="v")


class FakeFeed:
    """Each commit is a transaction of its own, over at once (xmin moves past it)."""

    def __init__(self) -> None:
        self.rows: list[Change] = []
        self.xmin, self._id = 10, 0
        self._notify: Callable[[], None] = lambda: None

    @contextlib.asynccontextmanager
    async def listening(self, on_notify: Callable[[], None]) -> AsyncIterator[FakeFeed]:
        self._notify = on_notify
        yield self

    async def read_new(self, after: Position, limit: int) -> tuple[list[Change], Position]:
        new = [c for c in self.rows if c.position > after and c.position.xid < self.xmin]
        return new[:limit], Position(self.xmin, 0)

    async def head(self) -> Head:
        return Head(Position(self.xmin, 0), ORIGIN, self.xmin + 1)

    async def read_scope(
        self, scope: WatchScope, after: Position, upto: Position, limit: int
    ) -> list[Change]:
        mine = [c for c in self.rows if scope.matches(c.venue_id, c.guest_id) and after < c.position <= upto]
        return mine[:limit]

    def commit(self, count: int, venue: str = "v") -> list[Position]:
        made = []
        for _ in range(count):
            self._id += 1
            made.append(Position(self.xmin, self._id))
            self.rows.append(Change(made[-1], venue, "g", b"event"))
            self.xmin += 1
        self._notify()
        return made


def hub(feed: FakeFeed, **settings: object) -> WatchHub:
    values: dict[str, object] = {"buffer_events": 5, "poll_interval": timedelta(seconds=0.05), **settings}
    return WatchHub(feed, WatchSettings(**values))  # type: ignore[arg-type]


async def events(stream: AsyncIterator[WatchItem], count: int) -> list[Position]:
    got: list[Position] = []
    async with asyncio.timeout(5):
        async for item in stream:
            if item.payload is not None:
                got.append(item.position)
                if len(got) == count:
                    return got
    return got


async def test_a_burst_larger_than_the_buffer_is_caught_up_in_order() -> None:
    feed = FakeFeed()
    watches = hub(feed)
    stream = watches.watch(VENUE, None)
    await anext(stream)  # the opening heartbeat: subscribed
    await asyncio.sleep(0.1)
    made = feed.commit(50)
    feed.commit(3, venue="other")
    assert await events(stream, 50) == made
    await watches.close()


async def test_a_client_that_stopped_taking_messages_is_dropped_naming_where_to_resume() -> None:
    feed = FakeFeed()
    watches = hub(feed, stall=timedelta(seconds=0.05))
    stream = watches.watch(VENUE, None)
    await anext(stream)
    first = feed.commit(2)
    given = await anext(stream)
    assert given.position == first[0]
    await asyncio.sleep(0.2)  # takes nothing while the buffer fills
    feed.commit(20)
    await asyncio.sleep(0.2)
    with pytest.raises(WatcherTooSlow) as dropped:
        await anext(stream)
    assert dropped.value.metadata["resume_position"] == str(first[0])
    assert watches.streams == 0
    await watches.close()


async def test_a_heartbeat_moves_on_with_the_hub_when_other_venues_change() -> None:
    feed = FakeFeed()
    watches = hub(feed, keepalive=timedelta(seconds=0.1))
    stream = watches.watch(VENUE, None)
    opening = await anext(stream)
    other = feed.commit(3, venue="other")
    async with asyncio.timeout(5):
        beat = await anext(stream)
        while beat.position <= other[-1]:
            beat = await anext(stream)
    assert beat.payload is None
    assert beat.position > opening.position
    await watches.close()
