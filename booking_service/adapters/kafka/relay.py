"""The outbox relay: publishes committed booking events to Kafka, in order per booking.

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
- A row is marked sent only after the broker acknowledged it (acks=all, idempotent producer, the
  booking id as message key so one booking's events share a Kafka partition and its order). If a
  message fails, none of that booking's later rows in the round are marked sent, and the round is
  retried. Delivery is therefore at least once: a relay that dies between the acknowledgement and
  the mark sends a row again. Consumers deduplicate by event id (the `ce_id` header) and can tell
  a repeat or a gap from `booking_version`.

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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from confluent_kafka import KafkaError, Message, Producer

from booking_service.adapters.kafka.security import KafkaSecurity
from booking_service.adapters.outbox import PARTITIONS
from booking_service.observability.metrics import OUTBOX_PUBLISHED
from booking_service.observability.tracing import ProducerSpan, producer_span

log = logging.getLogger("booking_service.relay")

#: The advisory lock class of outbox partitions ("bkox"); the partition number is the object id.
LOCK_CLASS = 0x626B6F78
CHANNEL = "booking_outbox"
DATA_SCHEMA = "type.googleapis.com/booking.v1.BookingEvent"

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


def producer_config(
    bootstrap_servers: str, delivery_timeout: timedelta, security: KafkaSecurity | None = None
) -> dict[str, Any]:
    """The relay producer's librdkafka settings; `security`: TLS and SASL (security.py)."""
    return {
        **(security or KafkaSecurity()).client_config(),
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,  # with acks=all: no duplicates or reordering from retries
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": int(delivery_timeout.total_seconds() * 1000),
        "client.id": "booking-service-outbox-relay",
        "logger": logging.getLogger("booking_service.kafka"),
    }


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        producer: Producer,
        settings: RelaySettings,
        *,
        connect: Callable[[str], Any] = asyncpg.connect,
    ) -> None:
        """`connect`: opens the relay's session (with the service's SessionLimits, events.py: a
        statement that gets no answer ends the session, and its partitions go to another relay)."""
        self._database_url = database_url
        self._producer = producer
        self._settings = settings
        self._connect = connect
        self._wake = asyncio.Event()
        self._closing = threading.Event()
        self._idle = asyncio.Condition()
        self._round = 0  # the number of the round in progress (or last done)
        self._idle_round = -1  # the last round that found nothing left to publish
        self.held: set[int] = set()
        self._next_claim = 0.0
        #: Rows published (and marked sent) by this relay since it started.
        self.published = 0

    async def run(self) -> None:
        """Relays until cancelled; reconnects after database failures."""
        backoff = 0.5
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

    async def _session(self) -> None:
        conn: asyncpg.Connection = await self._connect(self._database_url)
        self.held, self._next_claim = set(), 0.0
        try:
            await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
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
        """Stops waiting for the broker: what it has not acknowledged is dropped from the producer's
        queue and stays unsent in the outbox (published by the next start, at least once). A stop
        then fits its budget even with the broker gone (a flush waited its delivery timeout, in a
        thread the process waited for at exit)."""
        self._closing.set()
        with contextlib.suppress(Exception):
            self._producer.purge()

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
        delivered = await asyncio.to_thread(self._publish, rows)
        if delivered:
            await conn.execute(
                "UPDATE booking_outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", delivered
            )
            self.published += len(delivered)
            OUTBOX_PUBLISHED.inc(len(delivered))
        return len(delivered), len(delivered) < len(rows)

    def _publish(self, rows: Sequence[asyncpg.Record]) -> list[int]:
        """Produces the rows and waits for the broker; returns the ids it acknowledged, keeping for
        each booking only the rows before its first failure (so its order holds on the retry)."""
        outcome: dict[int, KafkaError | None] = {}
        topic = self._settings.topic
        spans: list[ProducerSpan] = []
        for row in rows:
            span = producer_span(topic, str(row["event_id"]), str(row["booking_id"]), row["trace_context"])
            spans.append(span)
            headers = [*self._headers(row), *span.headers]

            def delivered(
                error: KafkaError | None, _: Message, row_id: int = row["id"], span: ProducerSpan = span
            ) -> None:
                outcome[row_id] = error
                span.end(error)

            while True:
                try:
                    self._producer.produce(
                        topic,
                        key=str(row["booking_id"]).encode(),
                        value=bytes(row["payload"]),
                        headers=headers,
                        on_delivery=delivered,
                    )
                    break
                except BufferError:  # the local queue is full: let it drain
                    self._producer.poll(0.1)
        # Bounded: a message the broker has not acknowledged within its delivery timeout fails (and is
        # retried next round); and a relay that is closing stops waiting at once (close()): the
        # rows not acknowledged stay unsent, for the next round or the next start.
        give_up = time.monotonic() + self._settings.delivery_timeout.total_seconds() + 5
        while self._producer.flush(0.2) > 0:
            if self._closing.is_set() or time.monotonic() > give_up:
                break
        for span in spans:
            span.end("no delivery report")  # those reported have ended already
        acknowledged, failed_bookings = [], set()
        for row in rows:
            error = outcome.get(row["id"], "no delivery report")
            if error is None and row["booking_id"] not in failed_bookings:
                acknowledged.append(row["id"])
            elif error is not None:
                failed_bookings.add(row["booking_id"])
        if failed_bookings:
            errors = {str(e) for e in outcome.values() if e is not None}
            log.warning(
                "events not delivered; will retry",
                extra={"bookings": len(failed_bookings), "errors": sorted(errors)[:3]},
            )
        return acknowledged

    def _headers(self, row: asyncpg.Record) -> list[tuple[str, str | bytes | None]]:
        """The CloudEvents Kafka binding, binary mode (the trace headers are added beside them)."""
        return [
            ("ce_specversion", b"1.0"),
            ("ce_id", str(row["event_id"]).encode()),
            ("ce_source", self._settings.source.encode()),
            ("ce_type", row["event_type"].encode()),
            ("ce_time", row["occurred_at"].isoformat().replace("+00:00", "Z").encode()),
            ("ce_subject", str(row["booking_id"]).encode()),
            ("ce_dataschema", DATA_SCHEMA.encode()),
            ("content-type", b"application/protobuf"),
        ]

    async def _purge(self, conn: asyncpg.Connection) -> None:
        count = await conn.fetchval(_PURGE, self._settings.retention)
        if count:
            log.info("purged sent outbox rows", extra={"count": count})
