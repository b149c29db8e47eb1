"""How long from a committed change to its event on the broker (the relay's LISTEN/NOTIFY path).

Runs everything on this machine: an embedded PostgreSQL (or DATABASE_URL), the embedded broker, the
relay, and a consumer on another thread; creates bookings one after another and prints the latency
from each CreateBooking's return to the consumer's receipt of its booking.created event.

    .venv/bin/python bench/event_latency.py [--bookings 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from booking.v1 import booking_pb2
from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from booking_service.adapters import migrations
from booking_service.adapters.embedded_postgres import EmbeddedPostgres
from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.adapters.kafka.publisher import kafka_publisher
from booking_service.adapters.outbox_relay.relay import OutboxRelay, RelaySettings
from booking_service.bootstrap import PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.domain.commands import CreateBooking, VenueDetails
from booking_service.domain.values import Actor, ChangeSource, Guest, VenueType
from booking_service.entrypoints.http_server import AsgiServer
from booking_service.sandbox.app import SandboxApp


def consume(
    bootstrap_servers: str, topic: str, seen: dict[str, float], stop: threading.Event, ready: threading.Event
) -> None:
    # A short fetch wait: the mock broker answers a fetch only when the wait ends, not when data arrives.
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": str(uuid.uuid4()), "fetch.wait.max.ms": 5}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in partitions])
    while not stop.is_set():
        message = consumer.poll(0.05)
        if not ready.is_set():
            ready.set()
        if message is not None and not message.error():
            event = booking_pb2.BookingEvent.FromString(message.value() or b"")
            if event.type == "booking.created":
                seen[event.booking_id] = time.perf_counter()
    consumer.close()


async def main(bookings: int) -> None:
    embedded = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        embedded = EmbeddedPostgres(Path(tempfile.mkdtemp()))
        url = embedded.start()
    kafka = EmbeddedKafka()
    kafka.create_topic("bench.events", 4)
    sandbox = AsgiServer(SandboxApp(), "127.0.0.1", 0)  # the peers a create calls
    await sandbox.start()
    peers = f"http://127.0.0.1:{sandbox.port}"
    try:
        await migrations.upgrade(url)
        app = bootstrap(Settings(), url, PeerUrls(peers, peers, peers))
        settings = RelaySettings(topic="bench.events")
        relay = OutboxRelay(url, kafka_publisher(kafka.bootstrap_servers, settings), settings)
        relay_task = asyncio.create_task(relay.run())
        seen: dict[str, float] = {}
        stop, ready = threading.Event(), threading.Event()
        thread = threading.Thread(
            target=consume, args=(kafka.bootstrap_servers, "bench.events", seen, stop, ready)
        )
        thread.start()
        await asyncio.to_thread(ready.wait)
        await asyncio.sleep(1)
        committed: dict[str, float] = {}
        start = datetime.now(UTC) + timedelta(days=1)
        for i in range(bookings):
            booking = await app.use_cases.create_booking(
                CreateBooking(
                    actor=Actor("bench", ChangeSource.API),
                    guest=Guest(f"g{i}", "Bench"),
                    venue=VenueDetails("bench-venue", VenueType.RESTAURANT, "", "UTC"),
                    unit_id="",
                    start_time=start,
                    end_time=start + timedelta(hours=1),
                    party_size=2,
                )
            )
            committed[booking.booking_id] = time.perf_counter()
            await asyncio.sleep(0.01)
        await asyncio.sleep(1)  # the last events arrive within milliseconds
        stop.set()
        thread.join()
        relay_task.cancel()
        latencies = sorted((seen[b] - committed[b]) * 1000 for b in committed if b in seen)
        print(f"events received: {len(latencies)}/{bookings}")
        print(
            f"commit -> broker -> consumer latency: p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms, max {latencies[-1]:.1f} ms"
        )
        await app.aclose()
    finally:
        await sandbox.stop(0)
        kafka.close()
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=200)
    asyncio.run(main(parser.parse_args().bookings))
