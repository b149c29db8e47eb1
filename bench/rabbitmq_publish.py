"""How fast the relay's RabbitMQ publisher gets a batch of outbox rows confirmed (EVENTS_BROKER=rabbitmq).

Publishes synthetic outbox rows (600-byte payloads, 50 bookings) in batches of the relay's size
(500) to an exchange of its own on the RabbitMQ at RABBITMQ_URL (default: this machine's, guest), a
durable queue bound to it (so that the persistent messages are written to disk, as for a real
consumer), and prints confirmed messages per second and each batch's time; then the same rows
published one at a time, each awaited (what a publisher without pipelining would do). The exchange
and queue are deleted at the end.

    .venv/bin/python bench/rabbitmq_publish.py [--batches 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika

from booking_service.adapters.rabbitmq.publisher import RabbitPublisher

BATCH = 500


def rows(start: int) -> list[dict[str, Any]]:
    bookings = [str(uuid.uuid4()) for _ in range(50)]
    return [
        {
            "id": start + i,
            "event_id": uuid.uuid4(),
            "booking_id": bookings[i % len(bookings)],
            "event_type": "booking.created",
            "payload": os.urandom(600),
            "occurred_at": datetime.now(UTC),
            "trace_context": None,
        }
        for i in range(BATCH)
    ]


async def main(batches: int) -> None:
    url = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    exchange = f"bench.events.{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    declared = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"{exchange}.all", durable=True)
    await queue.bind(declared, routing_key="#")
    publisher = RabbitPublisher(url, exchange, "/booking-service", timedelta(seconds=30))
    try:
        await publisher.prepare()
        times = []
        for b in range(batches):
            batch = rows(b * BATCH)
            began = time.perf_counter()
            acknowledged = await publisher.publish(batch)
            times.append(time.perf_counter() - began)
            assert len(acknowledged) == BATCH, f"only {len(acknowledged)} of {BATCH} confirmed"
        total = sum(times)
        print(
            f"pipelined (the relay's publisher): {batches * BATCH / total:,.0f} msg/s confirmed; batch of "
            f"{BATCH}: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
        )
        confirms = await connection.channel(publisher_confirms=True)
        target = await confirms.get_exchange(exchange)
        one = rows(0)
        began = time.perf_counter()
        for row in one:
            message = aio_pika.Message(row["payload"], delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await target.publish(message, routing_key=row["event_type"])
        elapsed = time.perf_counter() - began
        print(
            f"one at a time, each confirm awaited: {BATCH / elapsed:,.0f} msg/s "
            f"({elapsed * 1000:.0f} ms a batch)"
        )
    finally:
        await publisher.aclose()
        await queue.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(exchange)
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=20)
    asyncio.run(main(parser.parse_args().batches))
