"""Connection limits for the HTTP/1.1 server, which uvicorn's httptools protocol does not have.

uvicorn reads a request head for as long as the client likes, of any size (httptools sets no limit;
only uvicorn's slower h11 protocol has `h11_max_incomplete_event_size`, and answers 400, not 431),
and its connection limit (`limit_concurrency`) counts connections that never finish a head: about
a thousand half-sent heads from one client made every other request, /readyz included, a 503. This
protocol adds, per connection:

- a header-read timeout: a head (the request line and headers) must arrive whole within
  `header_timeout_seconds` of its first byte (of the connection, for the first request); else 408
  and the connection is closed;
- a head size limit: past `max_header_bytes`, 431 and the connection is closed, before the rest
  is buffered;
- a body-read timeout: once its head is in, a request's body must arrive whole within
  `body_timeout_seconds`, else 408 (a body trickled a byte every few seconds held a connection, and
  a few hundred of them the server-wide limit, for as long as the client liked);
- a cap on connections per client address: past `max_connections_per_address`, 503 with
  Retry-After and the connection is closed at once, so that one address cannot hold the
  server-wide limit.

Every refusal made here, and a request the HTTP parser refuses (a bad Content-Length, a control byte
in a header), is answered like any other refusal: a google.rpc.Status with its ErrorInfo reason, an
`x-request-id`, and one log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import grpc
import httptools
import uvicorn
from google.protobuf import json_format
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from booking_service.entrypoints.grpc.errors import rich_status

log = logging.getLogger("booking_service.http")

_HEAD_END = b"\r\n\r\n"
#: How long the rest of a head too large is read and dropped after the 431 (see _refuse).
_LINGER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    max_header_bytes: int = 64 * 1024
    #: 0: no cap.
    max_connections_per_address: int = 128


class LimitedConfig(uvicorn.Config):
    """uvicorn's settings, with the limits and the connections per address of one server."""

    def __init__(self, app: Any, *, limits: ConnectionLimits, **options: Any) -> None:
        super().__init__(app, **options)
        self.limits = limits
        self.per_address: Counter[str] = Counter()


class LimitedProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        assert isinstance(config, LimitedConfig)
        self._limits, self._per_address = config.limits, config.per_address
        self._address: str | None = None  # counted against the cap while set
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""  # the last bytes of the head so far (its end may straddle two reads)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._refused = False
        #: A refusal of a pipelined request, sent once the requests before it are answered.
        self._after_answers: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        cap = self._limits.max_connections_per_address
        if cap and self._per_address[address] >= cap:
            self._refuse(_TOO_MANY, "Too many connections from this address.", b"1")
            return
        self._address = address
        self._per_address[address] += 1
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self._stop_body_timer()
        self._release_address()
        super().connection_lost(exc)

    def _release_address(self) -> None:
        if self._address is not None:
            self._per_address[self._address] -= 1
            if self._per_address[self._address] <= 0:
                del self._per_address[self._address]
            self._address = None

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: dropped
        if self._in_head:
            if self._head_timer is None:
                self._start_head_timer()
            window = self._tail + data
            end = window.find(_HEAD_END)
            size = self._head_bytes + (len(data) if end < 0 else end + len(_HEAD_END) - len(self._tail))
            if size > self._limits.max_header_bytes:
                message = f"The request head is larger than {self._limits.max_header_bytes} bytes."
                self._refuse(_HEAD_TOO_LARGE, message, linger=True)
                return
            self._head_bytes, self._tail = size, window[-3:]
        self._unset_keepalive_if_required()  # what uvicorn's data_received does, with our refusal
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # no WebSockets here: the request is served as is
        except httptools.HttpParserError as error:
            message = f"The request is not valid HTTP/1.1: {_parser_problem(error)}."
            if self._answering():  # pipelined after requests still being answered: they go first
                self._after_answers = message
                self.transport.pause_reading()
            else:
                self._refuse(_MALFORMED, message)

    def _answering(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return bool(self.pipeline) or (cycle is not None and not cycle.response_complete)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._after_answers is not None and not self._answering():
            message, self._after_answers = self._after_answers, None
            self._refuse(_MALFORMED, message)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes, self._tail = False, 0, b""
        self._stop_head_timer()
        super().on_headers_complete()
        self._body_timer = self.loop.call_later(self._limits.body_timeout_seconds, self._body_timed_out)

    def on_message_complete(self) -> None:
        self._in_head = True  # what follows is the next request's head; its clock starts with it
        self._stop_body_timer()
        super().on_message_complete()

    def _stop_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle.response_started:
            self.transport.close()  # answered already (refused before the body was read): just end
            return
        message = f"The request body did not arrive within {self._limits.body_timeout_seconds:g} s."
        self._refuse(_TIMED_OUT, message)

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self._limits.header_timeout_seconds, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_bytes:
            message = f"The request head did not arrive within {self._limits.header_timeout_seconds:g} s."
            self._refuse(_TIMED_OUT, message)
        elif not self.transport.is_closing():
            self.transport.close()  # nothing was asked: nothing to answer

    def _refuse(
        self, refusal: _Refusal, message: str, retry_after: bytes | None = None, *, linger: bool = False
    ) -> None:
        """Answers before the app answers (a google.rpc.Status, its reason, a request id; one log
        line) and closes the connection, which stops counting against its address; with `linger`
        (a head too large, still arriving), only after reading and dropping what the client sends
        for a while: closing on unread data resets the connection, which can destroy the answer in
        flight. The app, if it runs the request, is told the client went away."""
        self._stop_head_timer()
        self._stop_body_timer()
        if self.transport.is_closing() or self._refused:
            return
        self._refused = True
        self._release_address()
        request_id = str(uuid.uuid4())
        status = rich_status(refusal.code, message, refusal.reason, {})
        body = json.dumps(json_format.MessageToDict(status), separators=(",", ":")).encode()
        head = [
            b"HTTP/1.1 " + refusal.status_line,
            b"content-type: application/json",
            b"content-length: " + str(len(body)).encode(),
            b"x-request-id: " + request_id.encode(),
            b"connection: close",
        ]
        if retry_after is not None:
            head.append(b"retry-after: " + retry_after)
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        log.info(
            "http",
            extra={
                "status": int(refusal.status_line[:3]),
                "reason": refusal.reason,
                "request_id": request_id,
                "refused_by": "connection",
            },
        )
        if linger and self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the answer, then the end
            self.loop.call_later(_LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


@dataclass(frozen=True, slots=True)
class _Refusal:
    status_line: bytes
    code: grpc.StatusCode
    reason: str


_MALFORMED = _Refusal(b"400 Bad Request", grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
_TIMED_OUT = _Refusal(b"408 Request Timeout", grpc.StatusCode.DEADLINE_EXCEEDED, "REQUEST_TIMEOUT")
_HEAD_TOO_LARGE = _Refusal(
    b"431 Request Header Fields Too Large", grpc.StatusCode.RESOURCE_EXHAUSTED, "HEADERS_TOO_LARGE"
)
_TOO_MANY = _Refusal(b"503 Service Unavailable", grpc.StatusCode.UNAVAILABLE, "TOO_MANY_CONNECTIONS")


def _parser_problem(error: httptools.HttpParserError) -> str:
    """llhttp's own words for what it refused ("Invalid header value char"), without the bytes."""
    words = str(error).strip().rstrip(".")
    return words[:120] if words else "the parser refused it"
