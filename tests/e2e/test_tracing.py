"""Tracing: one booking followed from the call, through the database and the peers, into its events.

Spans are captured with the SDK's in-memory exporter; everything else is real (PostgreSQL, the
sandbox peers over HTTP, the Kafka-protocol broker and the outbox relay).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.bootstrap import Application, PeerUrls
from booking_service.config import Settings
from booking_service.domain.model import Booking
from booking_service.domain.values import Actor, ChangeSource
from booking_service.entrypoints.grpc.mapping import create_command
from booking_service.entrypoints.http_server import AsgiServer
from booking_service.observability import tracing
from tests.conftest import Sandbox
from tests.e2e.events_support import EventWorld, event_world

Make = Callable[..., pb.CreateBookingRequest]
CREATE = "/booking.v1.BookingService/CreateBooking"
ACTOR = Actor("tracing-test", ChangeSource.API)


@pytest.fixture
def spans(settings: Settings) -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test, every span kept in memory as it ends."""
    exporter = InMemorySpanExporter()
    handle = tracing.configure(settings, processor=SimpleSpanProcessor(exporter))
    yield exporter
    handle.shutdown()


@pytest.fixture
async def world(
    private_database: str, settings: Settings, kafka: EmbeddedKafka, peers: PeerUrls
) -> AsyncIterator[EventWorld]:
    async with event_world(private_database, settings, kafka, peers) as running:
        yield running


def new_trace() -> tuple[str, str]:
    """A caller's trace id and the traceparent that carries it."""
    trace_id = f"{random.getrandbits(128) | 1:032x}"
    return trace_id, f"00-{trace_id}-{random.getrandbits(64) | 1:016x}-01"


def trace_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


async def create_in_call(app: Application, request: pb.CreateBookingRequest, traceparent: str) -> Booking:
    """CreateBooking as the interceptor runs it: inside the server span of a call that carries
    `traceparent` in its metadata."""
    with tracing.server_span(CREATE, "grpc", [("traceparent", traceparent), ("x-actor", "t")]) as call:
        booking = await app.use_cases.create_booking(create_command(request, ACTOR))
    assert call.code.name == "OK"
    return booking


def peer_traces(sandbox: Sandbox) -> list[tuple[str, str]]:
    return list(sandbox.state.traceparents)


def in_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context and f"{s.context.trace_id:032x}" == trace_id
    ]


async def test_the_call_s_trace_reaches_the_peers(
    app: Application, sandbox: Sandbox, new_booking: Make, spans: InMemorySpanExporter
) -> None:
    trace_id, traceparent = new_trace()
    await create_in_call(app, new_booking(), traceparent)

    traced = in_trace(spans, trace_id)
    (server,) = [s for s in traced if s.kind is SpanKind.SERVER]
    assert server.name == CREATE.lstrip("/")
    assert server.attributes is not None
    assert server.attributes["rpc.service"] == "booking.v1.BookingService"
    assert server.attributes["rpc.method"] == "CreateBooking"
    assert server.attributes["rpc.grpc.status_code"] == 0
    assert server.parent is not None
    assert server.parent.is_remote
    assert f"-{server.parent.span_id:016x}-" in traceparent

    clients = {f"{s.context.span_id:016x}": s for s in traced if s.kind is SpanKind.CLIENT and s.context}
    received = [(path, tp) for path, tp in peer_traces(sandbox) if trace_of(tp) == trace_id]
    assert {path for path, _ in received} >= {"/api/v1/pricing/calculate", "/api/v1/inventory/reserve"}
    async with httpx.AsyncClient(base_url=sandbox.url) as admin:
        shown = (await admin.get("/admin/state")).json()["traceparents"]
    assert {(t["path"], t["traceparent"]) for t in shown} >= set(received)
    for path, tp in received:
        client = clients[tp.split("-")[2]]  # the peer's parent is our span of that very request
        assert client.attributes is not None
        assert client.attributes["url.template"] == path
        assert client.attributes["http.response.status_code"] == 200


async def test_sql_spans_carry_statements_never_guest_data(
    app: Application, new_booking: Make, spans: InMemorySpanExporter, ids: Callable[[str], str]
) -> None:
    email, phone = f"{ids('guest')}@example.com", f"+49151{random.randrange(10**7):07d}"
    request = new_booking(
        guest=pb.Guest(guest_id=ids("guest"), name="Ada Lovelace", email=email, phone=phone)
    )
    trace_id, traceparent = new_trace()
    booking = await create_in_call(app, request, traceparent)

    traced = in_trace(spans, trace_id)
    sql = [s for s in traced if s.attributes and s.attributes.get("db.system") == "postgresql"]
    assert "INSERT" in {s.name for s in sql}
    assert any("INSERT INTO bookings" in str(s.attributes["db.statement"]) for s in sql if s.attributes)
    assert all(s.kind is SpanKind.CLIENT for s in sql)
    # Every span made for the booking (server, SQL, peers, and any stray one): no guest data.
    everything = " ".join(str(v) for s in spans.get_finished_spans() for v in (s.attributes or {}).values())
    everything += " ".join(e.name + str(e.attributes) for s in spans.get_finished_spans() for e in s.events)
    assert booking.guest.email == email
    for secret in (email, phone, phone.removeprefix("+"), "Ada Lovelace"):
        assert secret not in everything


async def test_the_relayed_event_carries_the_call_s_trace(
    world: EventWorld, new_booking: Make, spans: InMemorySpanExporter
) -> None:
    trace_id, traceparent = new_trace()
    booking = await create_in_call(world.app, new_booking(), traceparent)
    stored = await outbox_trace_contexts(world.database_url, booking.booking_id)
    assert [trace_of(c["traceparent"]) for c in stored] == [trace_id]

    world.start_relay()
    (event,) = await world.receive(lambda r: len(r) >= 1)
    assert event.event.booking_id == booking.booking_id
    assert event.headers["ce_type"] == "booking.created"  # the CloudEvents headers are still there
    assert trace_of(event.headers["traceparent"]) == trace_id

    traced = in_trace(spans, trace_id)
    (server,) = [s for s in traced if s.kind is SpanKind.SERVER]
    (producer,) = [s for s in traced if s.kind is SpanKind.PRODUCER]
    assert producer.parent is not None
    assert server.context is not None
    assert producer.parent.span_id == server.context.span_id  # published in the call's trace
    assert producer.attributes is not None
    assert producer.attributes["messaging.destination.name"] == world.topic
    assert producer.attributes["messaging.message.id"] == event.event.event_id
    assert event.headers["traceparent"].split("-")[2] == f"{producer.context.span_id:016x}"  # type: ignore[union-attr]


async def test_with_tracing_off_nothing_breaks_and_no_trace_is_invented(
    world: EventWorld, sandbox: Sandbox, new_booking: Make, settings: Settings
) -> None:
    handle = tracing.configure(settings)  # OTEL_TRACES_EXPORTER unset: none
    assert not handle.enabled
    before = peer_traces(sandbox)
    _, traceparent = new_trace()
    over_grpc = await world.stub.CreateBooking(new_booking(), metadata=(("traceparent", traceparent),))
    in_call = await create_in_call(world.app, new_booking(unit_id="other-table"), traceparent)

    assert peer_traces(sandbox) == before  # no traceparent reached the peers, passed on or made up
    for booking_id in (over_grpc.booking_id, in_call.booking_id):
        assert await outbox_trace_contexts(world.database_url, booking_id) == []
    world.start_relay()
    received = await world.receive(lambda r: len(r) >= 2)
    assert {r.event.booking_id for r in received} == {over_grpc.booking_id, in_call.booking_id}
    assert all("traceparent" not in r.headers and "tracestate" not in r.headers for r in received)
    handle.shutdown()


async def test_spans_reach_an_otlp_collector(app: Application, new_booking: Make, settings: Settings) -> None:
    """OTLP over HTTP, as OTEL_EXPORTER_OTLP_ENDPOINT configures it, to a collector on loopback."""
    posts: list[tuple[str, bytes]] = []

    async def collector(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        posts.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    server = AsgiServer(collector, "127.0.0.1", 0)
    await server.start()
    otlp = replace(
        settings,
        otel_traces_exporter="otlp",
        otel_exporter_otlp_endpoint=f"http://127.0.0.1:{server.port}",
        otel_service_name="booking-service-under-test",
    )
    handle = tracing.configure(otlp)
    try:
        trace_id, traceparent = new_trace()
        await create_in_call(app, new_booking(), traceparent)
    finally:
        await asyncio.to_thread(handle.shutdown)  # it posts to the collector, which this loop serves
        await server.stop(0)

    assert {path for path, _ in posts} == {"/v1/traces"}
    exported = [ExportTraceServiceRequest.FromString(body) for _, body in posts]
    services, trace_ids = set(), set()
    for request in exported:
        for resource_spans in request.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope_spans in resource_spans.scope_spans:
                trace_ids |= {span.trace_id.hex() for span in scope_spans.spans}
    assert services == {"booking-service-under-test"}
    assert trace_ids == {trace_id}


async def test_a_grpc_call_s_traceparent_reaches_the_peers(
    stub: booking_pb2_grpc.BookingServiceAsyncStub,
    sandbox: Sandbox,
    new_booking: Make,
    spans: InMemorySpanExporter,
) -> None:
    trace_id, traceparent = new_trace()
    await stub.CreateBooking(new_booking(), metadata=(("traceparent", traceparent),))
    assert any(trace_of(tp) == trace_id for _, tp in peer_traces(sandbox))
    assert [s.name for s in in_trace(spans, trace_id) if s.kind is SpanKind.SERVER] == [CREATE.lstrip("/")]


async def test_a_rest_call_s_traceparent_reaches_the_peers(
    rest: httpx.AsyncClient, sandbox: Sandbox, new_booking: Make, spans: InMemorySpanExporter
) -> None:
    trace_id, traceparent = new_trace()
    body = json_format.MessageToDict(new_booking(), preserving_proto_field_name=True)
    response = await rest.post("/api/v1/bookings", json=body, headers={"traceparent": traceparent})
    assert response.is_success, response.text
    assert any(trace_of(tp) == trace_id for _, tp in peer_traces(sandbox))
    (server,) = [s for s in in_trace(spans, trace_id) if s.kind is SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes["rpc.transport"] == "rest"


async def outbox_trace_contexts(database_url: str, booking_id: str) -> list[dict[str, str]]:
    """The stored trace contexts of the booking's events (rows without one are left out)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT trace_context FROM booking_outbox WHERE booking_id = $1 AND trace_context IS NOT NULL",
            booking_id,
        )
    finally:
        await conn.close()
    return [json.loads(r["trace_context"]) for r in rows]
