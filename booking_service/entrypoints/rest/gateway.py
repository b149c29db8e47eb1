"""The REST gateway: an ASGI application that maps HTTP requests onto the RPCs.

Each request is matched against the route table (compiled from the google.api.http rules), turned
into the RPC's request message, and run in process through the same interceptors and servicer as a
gRPC call. Every failure, routing included, leaves through one path: a google.rpc.Status body with
the HTTP status of the one code table (status_map.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from booking_service.domain.errors import FieldViolation, ValidationFailed
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.auth.refusal import CallRefused
from booking_service.entrypoints.auth.scopes import METRICS
from booking_service.entrypoints.grpc.errors import internal_status, refusal_status, rich_status, status_of
from booking_service.entrypoints.grpc.in_process import InProcessInvoker
from booking_service.entrypoints.rest import etags, marshal, sse
from booking_service.entrypoints.rest.binding import BindingError, bind
from booking_service.entrypoints.rest.context import RestServicerContext
from booking_service.entrypoints.rest.docs import ASSET_PREFIX, DocsAssets
from booking_service.entrypoints.rest.headers import RepeatedHeader, RequestHeaders
from booking_service.entrypoints.rest.numbers import INT64, BadNumber, whole_number
from booking_service.entrypoints.rest.routes import Match, MethodNotAllowed, PathNotText, RouteTable
from booking_service.entrypoints.rest.status_headers import status_headers
from booking_service.entrypoints.rest.status_map import CODE_BY_NUMBER, HTTP_STATUS
from booking_service.observability.metrics import observe_call
from booking_service.observability.metrics_endpoint import MetricsEndpoint
from booking_service.request_context import request_id_from

log = logging.getLogger("booking_service.http")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: Request headers passed on to the call as gRPC metadata (besides `Grpc-Metadata-*`).
_FORWARDED = ("x-actor", "authorization", "traceparent", "tracestate")
#: Other request headers read as text, and so held to UTF-8 like the forwarded ones.
_TEXT_HEADERS = ("idempotency-key",)
_STATUS_DETAILS = "grpc-status-details-bin"


@dataclass(slots=True)
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class _Streamed:
    """A server-streaming RPC's answer (sse.py): its first message, the rest, and its context."""

    first: Message
    rest: AsyncIterator[Message]
    context: RestServicerContext


class _Refusal(Exception):
    """The gateway itself refuses the request (no route, wrong verb, unreadable body...). `rpc` is
    the RPC of the matched route, once there is one: the refusal then counts as a call of it."""

    def __init__(
        self, status: status_pb2.Status, http_status: int, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        super().__init__(status.message)
        self.status, self.http_status, self.headers = status, http_status, headers or []
        self.rpc = ""


class _BodyLeft:
    """Whether a request's body is still unread: an answer given before it was read closes the
    connection (the rest of the body would otherwise be read as the next request, or, after an
    `Expect: 100-continue`, never come)."""

    def __init__(self, receive: Receive, headers: RequestHeaders) -> None:
        self._receive = receive
        try:
            length = headers.get("content-length", "0").strip()
        except RepeatedHeader:  # refused where it is read (_call); a body may follow
            length = "?"
        self.left = "transfer-encoding" in headers or length not in ("", "0")

    async def receive(self) -> dict[str, Any]:
        message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            self.left = False
        return message


class _ClientGone(Exception):
    """The connection ended before the request's body was whole (the client left, or the server
    cut it: a body that took too long, http_limits.py). A partial body is never run."""


def _refusal(code: grpc.StatusCode, reason: str, message: str, http_status: int | None = None) -> _Refusal:
    return _Refusal(rich_status(code, message, reason, {}), http_status or HTTP_STATUS[code])


def _invalid(message: str, violations: list[FieldViolation]) -> _Refusal:
    """A 400 INVALID_ARGUMENT whose BadRequest names each field or header at fault."""
    status = status_of(ValidationFailed(violations))
    status.message = message
    return _Refusal(status, 400)


def _as_refusal(exc: _Refusal | RepeatedHeader) -> _Refusal:
    """The refusal to answer with: a header read as one value but given on several lines (read
    wherever the gateway or the binding reads it, headers.py) is a 400 naming it."""
    return exc if isinstance(exc, _Refusal) else _invalid(str(exc), [exc.violation])


class RestGateway:
    def __init__(
        self,
        invoker: InProcessInvoker,
        routes: RouteTable,
        *,
        ready: Callable[[], Awaitable[bool]],
        openapi: dict[str, Any],
        asyncapi: dict[str, Any],
        docs: DocsAssets,
        guard: CallGuard,
        max_body_bytes: int = 1 << 20,
        metrics: MetricsEndpoint | None = None,
    ) -> None:
        self._invoker = invoker
        self._routes = routes
        self._ready = ready
        self._openapi = json.dumps(openapi, ensure_ascii=False).encode()
        self._asyncapi = json.dumps(asyncapi, ensure_ascii=False).encode()
        self._docs = docs
        self._max_body = max_body_bytes
        self._guard = guard
        self._metrics = metrics
        self.draining = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = RequestHeaders((k.decode("latin-1"), _field_value(v)) for k, v in scope["headers"])
        request_id = request_id_from(headers.get("x-request-id"))  # the one rule, request_context.py
        method, path = scope["method"], scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        started = time.perf_counter()
        responder = marshal.for_accept(headers.get("accept", ""))
        unread = _BodyLeft(receive, headers)
        receive = unread.receive
        try:
            answer = await self._fixed(method, path, scope, headers) or await self._rpc(
                scope, receive, headers, request_id, responder
            )
        except (_Refusal, RepeatedHeader) as exc:
            refusal = _as_refusal(exc)
            answer = _error(refusal.status, refusal.http_status, responder, refusal.headers)
            elapsed = time.perf_counter() - started
            if refusal.rpc:  # refused before the chain (who calls, the body): still a call of the RPC
                observe_call("rest", refusal.rpc, CODE_BY_NUMBER[refusal.status.code].name, elapsed)
            log.info(
                "http",
                extra={
                    "method": method,
                    "path": self._routes.template_of(method, path),
                    "rpc": refusal.rpc,
                    "status": answer.status,
                    "reason": _reason(refusal.status),
                    "duration_ms": round(elapsed * 1000, 2),
                    "request_id": request_id,
                },
            )
        except _ClientGone:
            log.info(
                "http",
                extra={
                    "method": method,
                    "path": self._routes.template_of(method, path),
                    "status": 499,  # nginx's "client closed request": nobody is left to answer
                    "reason": "CLIENT_GONE",
                    "request_id": request_id,
                },
            )
            return
        except Exception:
            log.exception(
                "unexpected error in the REST gateway",
                extra={"path": self._routes.template_of(method, path), "request_id": request_id},
            )
            answer = _error(internal_status(request_id), 500, responder)
        if isinstance(answer, _Streamed):
            await self._stream(answer, send, receive, method, path, request_id, started)
            return
        answer.headers.append((b"x-request-id", request_id.encode("latin-1", "replace")))
        if unread.left:  # answered before the body was read (a 404, a refusal): what follows it on
            answer.headers.append((b"connection", b"close"))  # the connection is not a next request
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (b"content-type", answer.content_type.encode()),
                    (b"content-length", str(len(answer.body)).encode()),
                    *answer.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})

    async def _stream(
        self,
        answer: _Streamed,
        send: Send,
        receive: Receive,
        method: str,
        path: str,
        request_id: str,
        started: float,
    ) -> None:
        def on_error(error: BaseException) -> status_pb2.Status:
            if isinstance(error, grpc.aio.AbortError):
                return _status_of(answer.context)
            log.error("unexpected error in a stream", exc_info=error, extra={"request_id": request_id})
            return internal_status(request_id)

        request_header = [(b"x-request-id", request_id.encode("latin-1", "replace"))]
        outcome = await sse.relay(send, receive, answer.first, answer.rest, on_error, request_header)
        log.info(
            "http",
            extra={
                "method": method,
                "path": self._routes.template_of(method, path),
                "status": 200,
                "reason": outcome,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
            },
        )

    async def _fixed(self, method: str, path: str, scope: Scope, headers: RequestHeaders) -> _Answer | None:
        """Health, metrics, the OpenAPI and AsyncAPI documents and the docs pages."""
        if method not in ("GET", "HEAD"):
            return None
        if path == "/healthz":
            return _Answer(200, b'{"status":"live"}')
        if path == "/readyz":
            ready = not self.draining and await self._ready()
            return _Answer(200, b'{"status":"ready"}') if ready else _Answer(503, b'{"status":"not ready"}')
        if path == "/metrics" and self._metrics is not None:
            self._admit(METRICS, scope, headers)
            body, content_type = await self._metrics.render()
            return _Answer(200, body, content_type)
        if path == "/openapi.json":
            return _Answer(200, self._openapi)
        if path == "/asyncapi.json":
            return _Answer(200, self._asyncapi)
        if path in ("/docs", "/docs/"):
            return _Answer(200, self._docs.swagger_page, "text/html; charset=utf-8")
        if path in ("/redoc", "/redoc/"):
            return _Answer(200, self._docs.redoc_page, "text/html; charset=utf-8")
        if path.startswith(ASSET_PREFIX) and (asset := self._docs.asset(path)) is not None:
            return _Answer(200, asset[0], asset[1], [(b"cache-control", b"public, max-age=86400")])
        return None

    def _admit(self, resource: str, scope: Scope, headers: RequestHeaders) -> None:
        """The guard's decision for what the gateway serves itself (the RPCs meet it in the chain)."""
        metadata = _metadata(headers, "", scope)
        try:
            self._guard.admit(resource, None, metadata, _auth_context(scope), _peer(scope))
        except CallRefused as refusal:
            raise _Refusal(refusal_status(refusal), HTTP_STATUS[refusal.code]) from None

    async def _rpc(
        self,
        scope: Scope,
        receive: Receive,
        headers: RequestHeaders,
        request_id: str,
        responder: marshal.Marshaler,
    ) -> _Answer | _Streamed:
        method, path = scope["method"], scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        try:  # HEAD is GET without the body, which uvicorn leaves out (RFC 9110 9.3.2)
            match = self._routes.match("GET" if method == "HEAD" else method, path)
        except PathNotText:
            raise _invalid(
                "The path is not UTF-8 once percent-decoded.", [FieldViolation("path", "is not valid UTF-8")]
            ) from None
        except MethodNotAllowed as exc:
            refusal = _refusal(
                grpc.StatusCode.UNIMPLEMENTED,
                "METHOD_NOT_ALLOWED",
                f"{method} is not allowed on {path}; use {', '.join(exc.allowed)}.",
                405,
            )
            refusal.headers.append((b"allow", ", ".join(exc.allowed).encode()))
            raise refusal from None
        if match is None:
            raise _refusal(
                grpc.StatusCode.NOT_FOUND,
                "ROUTE_NOT_FOUND",
                f"There is no {method} {path} in this API; see /openapi.json.",
            )
        try:
            return await self._call(match, scope, receive, headers, request_id, responder)
        except (_Refusal, RepeatedHeader) as exc:
            refusal = _as_refusal(exc)
            refusal.rpc = match.route.rpc
            raise refusal from None

    async def _call(
        self,
        match: Match,
        scope: Scope,
        receive: Receive,
        headers: RequestHeaders,
        request_id: str,
        responder: marshal.Marshaler,
    ) -> _Answer | _Streamed:
        """The matched route's call: who calls, the body, then the RPC through the chain."""
        for name in _TEXT_HEADERS:  # the others are forwarded (_metadata) or read as numbers
            if name in headers:
                _utf8(name, headers[name])
        metadata = _metadata(headers, request_id, scope)
        try:  # who calls, before anything of the body is read (the chain admits the call itself)
            self._guard.authenticate(metadata, _auth_context(scope), _peer(scope))
        except CallRefused as refusal:
            raise _Refusal(refusal_status(refusal), HTTP_STATUS[refusal.code]) from None
        try:
            timeout = _timeout(headers.get("grpc-timeout"))
            length = headers.get("content-length")
            declared = None if length is None else whole_number("Content-Length", length, 0, INT64[1])
        except BadNumber as exc:
            raise _invalid(str(exc), [exc.violation]) from None
        reader = marshal.for_content_type(headers.get("content-type", ""))
        body = await self._read_body(receive, declared)
        try:
            query = parse_qsl(
                scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True, errors="strict"
            )
        except UnicodeDecodeError:
            raise _invalid(
                "The query is not UTF-8 once percent-decoded.",
                [FieldViolation("query", "is not valid UTF-8")],
            ) from None
        try:
            request = bind(match, reader, body, query, headers)
        except BindingError as exc:
            if not exc.violations:
                raise _refusal(grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST", str(exc)) from None
            raise _invalid(str(exc), exc.violations) from None
        context = RestServicerContext(metadata, _peer(scope), _auth_context(scope), timeout=timeout)
        if match.route.method.server_streaming:
            if scope["method"] == "HEAD":  # the head of a stream that never ends: not opened
                return _Answer(200, b"", sse.CONTENT_TYPE)
            sse.resume_from(request, headers.get(sse.LAST_EVENT_ID))
            return await self._open_stream(match, request, context, metadata)
        try:
            response = await self._invoker.call(match.route.rpc, request, context, metadata)
        except grpc.aio.AbortError:
            return _error(
                _status_of(context),
                HTTP_STATUS.get(context.code() or grpc.StatusCode.UNKNOWN, 500),
                responder,
            )
        payload: Message = (
            getattr(response, match.route.response_body) if match.route.response_body else response
        )
        answer = _Answer(200, responder.encode(payload), responder.content_type)
        # A resource with a version has its ETag; version 0 (a venue with no policy stored) has no
        # version a change could name (etags.py: versions start at 1), so no ETag either.
        if "version" in response.DESCRIPTOR.fields_by_name and response.version > 0:
            answer.headers.append((b"etag", etags.etag(response.version).encode()))
        return answer

    async def _open_stream(
        self,
        match: Match,
        request: Message,
        context: RestServicerContext,
        metadata: tuple[tuple[str, str], ...],
    ) -> _Answer | _Streamed:
        """The stream's first message, or the error it ended with before one (an ordinary answer)."""
        rest = self._invoker.stream(match.route.rpc, request, context, metadata)
        try:
            first = await anext(rest)
        except grpc.aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            return _error(_status_of(context), HTTP_STATUS.get(code, 500), marshal.JSON)
        return _Streamed(first, rest, context)

    async def _read_body(self, receive: Receive, declared: int | None) -> bytes:
        """The body, refused with 413 as soon as it (or its Content-Length) passes the limit."""
        if declared is not None and declared > self._max_body:
            raise self._too_large()
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # before the body was whole: nothing to run
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _too_large(self) -> _Refusal:
        """RESOURCE_EXHAUSTED, as gRPC says of a message over its limit, with HTTP's own 413."""
        status = rich_status(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"The body is larger than {self._max_body} bytes.",
            "PAYLOAD_TOO_LARGE",
            {"max_bytes": str(self._max_body)},
        )
        return _Refusal(status, 413)


def _metadata(headers: RequestHeaders, request_id: str, scope: Scope) -> tuple[tuple[str, str], ...]:
    pairs = [("x-request-id", request_id)]
    pairs.extend((name, _utf8(name, headers[name])) for name in _FORWARDED if name in headers)
    pairs.extend(
        (name[len("grpc-metadata-") :], _utf8(name, headers[name]))
        for name in headers
        if name.startswith("grpc-metadata-")
    )
    client = scope.get("client")
    if client:
        pairs.append(("x-forwarded-for", str(client[0])))
    return tuple(pairs)


def _field_value(raw: bytes) -> str:
    """A header's value as text: its bytes as UTF-8 (bytes that are not stay as lone surrogates, for
    _utf8 to refuse where the value is used as text), without the whitespace around it that is no
    part of a field value (RFC 9110 section 5.5)."""
    return raw.decode("utf-8", "surrogateescape").strip(" \t")


def _utf8(name: str, value: str) -> str:
    """The value of a header used as text; a 400 naming it when its bytes are not UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(
            f"The {name} header is not valid UTF-8.", [FieldViolation(name, "is not valid UTF-8")]
        ) from None
    return value


#: gRPC's Timeout header: up to 8 digits and a unit (PROTOCOL-HTTP2.md in grpc/grpc).
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def _timeout(header: str | None) -> float | None:
    """Seconds from a `Grpc-Timeout` request header (`5S`, `800m`), None when absent (the call then
    gets the service's default deadline, DEFAULT_DEADLINE_SECONDS, as over gRPC); BadNumber when
    it is not 1 to 8 digits and a unit."""
    if header is None:
        return None
    text = header.strip()
    if text[-1:] not in _TIMEOUT_UNITS:
        raise BadNumber("Grpc-Timeout", "must be 1 to 8 digits and a unit of H, M, S, m, u or n (5S)")
    return whole_number("Grpc-Timeout", text[:-1], 0, 99_999_999) * _TIMEOUT_UNITS[text[-1]]


def _auth_context(scope: Scope) -> dict[str, list[bytes]]:
    """What TLS proved about the client, in gRPC's auth-context terms (see http_server.py)."""
    name = scope.get("extensions", {}).get("tls", {}).get("client_common_name")
    return {"x509_common_name": [name.encode()]} if name else {}


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    if not client:
        return "unknown"
    host, port = client
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


def _status_of(context: RestServicerContext) -> status_pb2.Status:
    """The rich status the call aborted with (or a plain one built from its code and details)."""
    for key, value in context.trailing_metadata():
        if key == _STATUS_DETAILS and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    code = context.code() or grpc.StatusCode.UNKNOWN
    return rich_status(code, context.details() or code.name, code.name, {})


def _error(
    status: status_pb2.Status,
    http_status: int,
    marshaler: marshal.Marshaler,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> _Answer:
    body = marshaler.encode(status, unpopulated=False)
    return _Answer(http_status, body, marshaler.content_type, [*(headers or []), *status_headers(status)])


def _reason(status: status_pb2.Status) -> str:
    info = error_details_pb2.ErrorInfo()
    for detail in status.details:
        if detail.Unpack(info):
            return str(info.reason)
    return CODE_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN).name


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
