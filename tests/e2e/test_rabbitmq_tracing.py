"""Tracing into RabbitMQ: the event's AMQP message carries the W3C trace headers of its PRODUCER span,
a child of the call that wrote the event (the same as on Kafka: test_tracing.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from booking.v1 import booking_pb2 as pb
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from booking_service.bootstrap import PeerUrls
from booking_service.config import Settings
from tests.e2e.rabbitmq_support import RabbitWorld, distinct, rabbit_world, rabbitmq_url
from tests.e2e.test_tracing import create_in_call, in_trace, new_trace, spans, trace_of

__all__ = ["spans"]  # the fixture, shared with test_tracing.py
Make = Callable[..., pb.CreateBookingRequest]


@pytest.fixture
async def world(private_database: str, settings: Settings, peers: PeerUrls) -> AsyncIterator[RabbitWorld]:
    async with rabbit_world(rabbitmq_url(), private_database, settings, peers) as running:
        yield running


async def test_the_amqp_message_carries_the_call_s_trace(
    world: RabbitWorld, new_booking: Make, spans: InMemorySpanExporter
) -> None:
    trace_id, traceparent = new_trace()
    consumer = await world.consumer()
    booking = await create_in_call(world.app, new_booking(), traceparent)
    world.start_relay()
    (got,) = await consumer.until(distinct(1))
    assert got.event.booking_id == booking.booking_id
    assert got.headers["cloudEvents_type"] == "booking.created"  # the CloudEvents headers are still there
    assert trace_of(got.headers["traceparent"]) == trace_id

    traced = in_trace(spans, trace_id)
    (server,) = [s for s in traced if s.kind is SpanKind.SERVER]
    (producer,) = [s for s in traced if s.kind is SpanKind.PRODUCER]
    assert producer.parent is not None
    assert server.context is not None
    assert producer.context is not None
    assert producer.parent.span_id == server.context.span_id  # published in the call's trace
    attributes = dict(producer.attributes or {})
    assert attributes["messaging.system"] == "rabbitmq"
    assert attributes["messaging.destination.name"] == world.exchange
    assert attributes["messaging.rabbitmq.destination.routing_key"] == "booking.created"
    assert attributes["messaging.message.id"] == got.event.event_id
    assert got.headers["traceparent"].split("-")[2] == f"{producer.context.span_id:016x}"
