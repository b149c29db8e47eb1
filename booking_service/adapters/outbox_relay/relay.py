"""The outbox relay: publishes committed booking events to the broker (Kafka or RabbitMQ), in order
per booking.

Why several relays (one per replica) are safe together:
- The outbox is split into PARTITIONS by a hash of the booking id, so all events of one booking sit
  in one partition. A relay publishes a partition only while it holds that partition's PostgreSQL
  advisory lock (session-level, on the relay's own connection), so at any moment at most one relay
  publishes a booking's events. A relay whose process or connection dies loses its locks with its
  session; another takes the partitions over and resumes from the rows not yet marked sent.
- There is no "last id seen" cursor: each round reads the partition's unsent rows in id order. Ids
  are given at insert and one booking's changes commit one after another (a change reads the
  version its predecessor committed), so a booking's rows appear in id order, and a row that
  commits late (a smaller id of another booking) is simply read in a later round.
- A row is marked sent only after the broker acknowledged it. The broker's part sits behind a
  Publisher (publisher.py): Kafka's (acks=all, an idempotent producer, the booking id as message key
  so one booking's events share a Kafka partition and its order: adapters/kafka/publisher.py) or
  RabbitMQ's (persistent messages on one channel with publisher confirms, to a durable topic
  exchange: adapters/rabbitmq/publisher.py). If a message fails, none of that booking's later rows
  in the round are marked sent, and the round is retried. Delivery is therefore at least once: a
  relay that dies between the acknowledgement and the mark sends a row again. Consumers deduplicate
  by event id (the CloudEvents `id`: `ce_id`, `cloudEvents_id`) and can tell a repeat or a gap from
  `booking_version`.

The relay wakes on LISTEN/NOTIFY (a trigger notifies on every insert) and polls as a fallback,
since a listener misses notifications while it is disconnected. Sent rows are purged after a
retention period, and the purge horizon (the highest WatchBookings position purged) is raised with
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from booking_service.adapters.outbox import PARTITIONS
from booking_service.adapters.outbox_relay.publisher import Publisher
from booking_service.observability.metrics import OUTBOX_PUBLISHED

log = logging.getLogger("booking_service.relay")

#: The advisory lock class of outbox partitions ("bkox"); the partition number is the object id.
LOCK_CLASS = 0x626B6F78
CHANNEL = "booking_outbox"

#: Deletes the sent rows past retention and, in the same statement, raises the purge horizon to the
#: highest watch position deleted (WatchBookings refuses to resume below it: outbox_watch.py). Rows
#: are purged by when they were sent, not in position order, so "the oldest row kept" would not do.
_PURGE = """
WITH gone AS (
    DELETE FROM booking_outbox WHERE sent_at < now() - $1::interval RETURNING xid, id
), highest AS (
    SELECT xid, id FROM gone WHERE xid IS NOT NULL ORDER BY xid DESC, id DESC LIMIT 1
), raised AS (
    UPDATE booking_outbox_horizon AS h SET xid = highest.xid, id = highest.id FROM highest
    WHERE (highest.xid, highest.id) > (h.xid, h.id)
)
SELECT count(*) FROM gone
"""


@dataclass(frozen=True, slots=True)
class RelaySettings:
    #: The Kafka topic, or the RabbitMQ exchange (BOOKING_EVENTS_TOPIC).
    topic: str = "booking.events"
    source: str = "/booking-service"
    batch_size: int = 500
    poll_interval: timedelta = timedelta(seconds=1)
    delivery_timeout: timedelta = timedelta(seconds=30)
    retention: timedelta = timedelta(days=7)
    purge_interval: timedelta = timedelta(minutes=10)
    claim_interval: timedelta = timedelta(seconds=2)
    #: At most this many outbox partitions per relay: less than all lets replicas share the work.
    max_partitions: int = PARTITIONS


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        publisher: Publisher,
        settings: RelaySettings,
        *,
        connect: Callable[[str], Any] = asyncpg.connect,
    ) -> None:
        """`connect`: opens the relay's session (with the service's SessionLimits, events.py: a
        statement that gets no answer ends the session, and its partitions go to another relay)."""
        self._database_url = database_url
        self._publisher = publisher
        self._settings = settings
        self._connect = connect
        self._wake = asyncio.Event()
        self._idle = asyncio.Condition()
        self._round = 0  # the number of the round in progress (or last done)
        self._idle_round = -1  # the last round that found nothing left to publish
        self.held: set[int] = set()
        self._next_claim = 0.0
        #: Rows published (and marked sent) by this relay since it started.
        self.published = 0

    async def run(self) -> None:
        """Relays until cancelled; reconnects after database failures (the publisher reconnects to
        its broker by itself). Cancelled, it releases the publisher's connections."""
        backoff = 0.5
        try:
            while True:
                try:
                    await self._session()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception(
                        "outbox relay lost its database session; reconnecting", extra={"in_seconds": backoff}
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await asyncio.shield(self._publisher.aclose())

    async def _session(self) -> None:
        conn: asyncpg.Connection = await self._connect(self._database_url)
        self.held, self._next_claim = set(), 0.0
        try:
            await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
            await self._publisher.prepare()
            last_purge = 0.0
            retry_delay = 0.0
            while True:
                self._wake.clear()
                self._round += 1
                round_number = self._round
                await self._claim(conn)
                published, failed = await self._publish_round(conn) if self.held else (0, False)
                if time.monotonic() - last_purge > self._settings.purge_interval.total_seconds():
                    await self._purge(conn)
                    last_purge = time.monotonic()
                if failed:
                    retry_delay = min(max(retry_delay * 2, 0.5), 5.0)
                    await asyncio.sleep(retry_delay)
                    continue
                retry_delay = 0.0
                if published == 0:
                    async with self._idle:
                        self._idle_round = round_number
                        self._idle.notify_all()
                if published < self._settings.batch_size:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
                    # that arrives as its timeout fires, and the relay would then never stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._settings.poll_interval.total_seconds()):
                            await self._wake.wait()
        finally:
            self.held = set()
            with contextlib.suppress(Exception):  # a silent server: given up on (terminated) after 2 s
                await asyncio.shield(conn.close(timeout=2))

    def close(self) -> None:
        """Stops waiting for the broker: what it has not acknowledged stays unsent in the outbox
        (published by the next start, at least once). A stop then fits its budget even with the
        broker gone."""
        self._publisher.close()

    async def flushed(self) -> None:
        """Returns once a round started after this call found nothing to publish (used when
        stopping, so that what the last calls committed goes out first)."""
        async with self._idle:
            after = self._round  # that round may have read its rows before the caller's commits
            self._wake.set()
            await self._idle.wait_for(lambda: self._idle_round > after)

    async def _claim(self, conn: asyncpg.Connection) -> None:
        """Tries to take the advisory locks of partitions it lacks, up to its share (one statement;
        every candidate's lock is tried and reported, so none is taken unknowingly)."""
        wanted = self._settings.max_partitions - len(self.held)
        if wanted <= 0 or time.monotonic() < self._next_claim:
            return
        self._next_claim = time.monotonic() + self._settings.claim_interval.total_seconds()
        candidates = [p for p in range(PARTITIONS) if p not in self.held]
        random.shuffle(candidates)
        rows = await conn.fetch(
            "SELECT p FROM unnest($1::int[]) AS p WHERE pg_try_advisory_lock($2::int, p)",
            candidates[:wanted],
            LOCK_CLASS,
        )
        if rows:
            self.held |= {r["p"] for r in rows}
            log.info("outbox relay took partitions", extra={"partitions": sorted(self.held)})

    async def _publish_round(self, conn: asyncpg.Connection) -> tuple[int, bool]:
        """Publishes one batch of unsent rows; returns how many were published, and whether any failed."""
        rows = await conn.fetch(
            "SELECT id, event_id, booking_id, event_type, payload, occurred_at, trace_context "
            "FROM booking_outbox "
            "WHERE sent_at IS NULL AND partition = ANY($1::smallint[]) ORDER BY id LIMIT $2",
            sorted(self.held),
            self._settings.batch_size,
        )
        if not rows:
            return 0, False
        delivered = await self._publisher.publish(rows)
        if delivered:
            await conn.execute(
                "UPDATE booking_outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", delivered
            )
            self.published += len(delivered)
            OUTBOX_PUBLISHED.inc(len(delivered))
        return len(delivered), len(delivered) < len(rows)

    async def _purge(self, conn: asyncpg.Connection) -> None:
        count = await conn.fetchval(_PURGE, self._settings.retention)
        if count:
            log.info("purged sent outbox rows", extra={"count": count})
