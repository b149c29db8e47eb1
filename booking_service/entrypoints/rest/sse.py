"""A server-streaming RPC over REST: server-sent events (`text/event-stream`), as its route says.

The gateway answers any route whose RPC streams its responses this way (routes.py has no list of
such paths: the method's descriptor says so). Conventions, by field name, so that no RPC is named:
- each message is one event: `id:` its `position` field (when it has one), `data:` the message as
  JSON, written by the same writer as every other answer (marshal.JSON, on one line);
- a message with `heartbeat` set is written as a comment line (`: keep-alive`) with its `id:` and
  no data: proxies see bytes on an idle stream, and an EventSource keeps the position without
  dispatching an event (the HTML standard sets lastEventId before it drops a data-less event);
- the request's `start_position` field, when the query leaves it empty, is read from the
  `Last-Event-ID` header, so a reconnecting EventSource resumes where it stopped;
- an error before the first message is an ordinary answer (the status of the one code table and
  a google.rpc.Status body); after it, the status comes as a last event (`event: error`, the
  google.rpc.Status as JSON) and the response ends.
The stream ends when the client disconnects (the RPC is cancelled at once, not at its next write).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from google.protobuf.message import Message
from google.rpc import status_pb2

from booking_service.entrypoints.rest import marshal

CONTENT_TYPE = "text/event-stream"
LAST_EVENT_ID = "last-event-id"
START_FIELD, POSITION_FIELD, HEARTBEAT_FIELD = "start_position", "position", "heartbeat"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
]

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def resume_from(request: Message, last_event_id: str | None) -> None:
    """Sets the request's start field from Last-Event-ID, over what the query says: an EventSource
    reconnects to the same URL (its start_position, if any, from before) with the id of the last
    event it received, where it must resume (else it would get again what it had)."""
    fields = request.DESCRIPTOR.fields_by_name
    if last_event_id and START_FIELD in fields:
        setattr(request, START_FIELD, last_event_id.strip())


def event(message: Message) -> bytes:
    fields = message.DESCRIPTOR.fields_by_name
    position = str(getattr(message, POSITION_FIELD)) if POSITION_FIELD in fields else ""
    lines = []
    if HEARTBEAT_FIELD in fields and getattr(message, HEARTBEAT_FIELD):
        lines.append(b": keep-alive")
    else:
        lines.append(b"data: " + marshal.JSON.encode(message))
    if position:
        lines.append(b"id: " + position.replace("\n", "").replace("\r", "").encode())
    return b"\n".join(lines) + b"\n\n"


def error_event(status: status_pb2.Status) -> bytes:
    return b"event: error\ndata: " + marshal.JSON.encode(status, unpopulated=False) + b"\n\n"


async def relay(
    send: Send,
    receive: Receive,
    first: Message,
    rest: AsyncIterator[Message],
    on_error: Callable[[BaseException], status_pb2.Status | None],
    headers: list[tuple[bytes, bytes]],
) -> str:
    """Writes the response: its head and `first`, then every message of `rest` until it ends, fails
    (`on_error`: the status to send as the last event, None to pass the exception on) or the client
    leaves. Returns how it ended: "OK", "ERROR" or "CLIENT_GONE"."""
    await send({"type": "http.response.start", "status": 200, "headers": [*HEADERS, *headers]})
    await send({"type": "http.response.body", "body": event(first), "more_body": True})

    async def pump() -> None:
        async for message in rest:
            await send({"type": "http.response.body", "body": event(message), "more_body": True})

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    writing, leaving = asyncio.create_task(pump()), asyncio.create_task(disconnected())
    try:
        await asyncio.wait((writing, leaving), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (writing, leaving):
            task.cancel()
        await asyncio.gather(writing, leaving, return_exceptions=True)
    if not writing.cancelled() and writing.exception() is None:
        outcome, last = "OK", b""
    elif writing.cancelled():
        return "CLIENT_GONE"
    else:
        error = writing.exception()
        assert error is not None
        status = on_error(error)
        if status is None:
            raise error
        outcome, last = "ERROR", error_event(status)
    await send({"type": "http.response.body", "body": last, "more_body": False})
    return outcome
