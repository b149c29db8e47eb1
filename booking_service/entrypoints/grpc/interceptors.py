"""The one path every call takes, over gRPC and (in process) over REST: a request id (the caller's
when request_context.py's rule keeps it, else a fresh UUID); the request decoded when the network
server left it as bytes (raw_requests.py), so that bytes the decoder refuses are refused like any
other request; the guard (who calls, their rate, their scope); the limits (calls in flight, a
default deadline, published in request_context.deadline_var so that peer calls and their retries
end within it); domain errors
turned into rich statuses, unexpected errors into INTERNAL (logged with their traceback); and one
access-log line per call, naming the caller and the booking ids, never guest data.

Every call pays for this path, so it is kept lean (measured with bench/run.py against the echo RPC):
the wrapped handler is built once per method, the request id goes back in the trailing metadata
(sent with the status; initial metadata of its own would cost the call a batch of its own, about
a fifth of a bare RPC's cost), and the access-log record is only built when it will be written."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_status import rpc_status

from booking_service.domain.errors import BookingError
from booking_service.domain.validation import is_uuid
from booking_service.entrypoints.auth.caller import caller_var
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.auth.lifetime import within_lifetime
from booking_service.entrypoints.auth.refusal import CallRefused
from booking_service.entrypoints.auth.scopes import HEALTH_PREFIX, UNKNOWN_METHOD
from booking_service.entrypoints.grpc.errors import code_for, internal_status, refusal_status, status_of
from booking_service.entrypoints.grpc.limits import CallLimits
from booking_service.entrypoints.grpc.raw_requests import DECODERS, malformed
from booking_service.observability.metrics import observe_call
from booking_service.observability.tracing import server_span
from booking_service.request_context import deadline_var, request_id_from, request_id_var

log = logging.getLogger("booking_service.access")
REQUEST_ID_HEADER = "x-request-id"

#: Calls logged at DEBUG rather than INFO (probes would drown the log).
_QUIET = (HEALTH_PREFIX,)

Context = grpc.aio.ServicerContext[Any, Any]
Behavior = Callable[[Any, Context], Awaitable[Any]]
StreamBehavior = Callable[[Any, Context], AsyncIterator[Any]]
Decoder = Callable[[bytes], Message]


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, guard: CallGuard | None = None, limits: CallLimits | None = None) -> None:
        self._guard = guard or CallGuard()
        self._limits = limits or CallLimits()
        #: Wrapped handlers by the handler they wrap (the servicer's handlers do not change).
        self._wrapped: dict[grpc.RpcMethodHandler[Any, Any], grpc.RpcMethodHandler[Any, Any]] = {}
        self._unknown: grpc.RpcMethodHandler[Any, Any] | None = None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None:  # refused in the chain like any call: a request id, a log line, a metric
            if self._unknown is None:
                self._unknown = grpc.unary_unary_rpc_method_handler(
                    self._unary(UNKNOWN_METHOD, _no_such_method)
                )
            return self._unknown
        wrapped = self._wrapped.get(handler)
        if wrapped is None:
            wrapped = self._wrapped[handler] = self._wrap(details.method, handler)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        if handler.unary_unary is not None:
            # On a grpc.aio server every unary behaviour is a coroutine function. A handler with no
            # deserializer gets the request's bytes (raw_requests.py): decoded here, in the chain.
            decode = DECODERS.get(method) if handler.request_deserializer is None else None
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, cast(Behavior, handler.unary_unary), decode),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None and not method.startswith(HEALTH_PREFIX):
            decode = DECODERS.get(method) if handler.request_deserializer is None else None
            return grpc.unary_stream_rpc_method_handler(
                self._server_stream(method, cast(StreamBehavior, handler.unary_stream), decode),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None and not method.startswith(HEALTH_PREFIX):
            # Server reflection (an async generator): the same guard as any read.
            return grpc.stream_stream_rpc_method_handler(
                self._stream(method, cast(StreamBehavior, handler.stream_stream)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # health checks (Watch streams) are open to all

    def _unary(self, method: str, behavior: Behavior, decode: Decoder | None = None) -> Behavior:
        level = logging.DEBUG if method.startswith(_QUIET) else logging.INFO
        guard, limits = self._guard, self._limits

        async def call(request: Any, context: Context) -> Any:
            metadata = tuple(context.invocation_metadata() or ())
            request_id = _request_id(metadata)
            token = request_id_var.set(request_id)
            started = time.perf_counter()
            code, reason, caller, booking_id = grpc.StatusCode.OK, "", "", ""
            transport = getattr(context, "transport", "grpc")  # "rest" from the gateway
            peer = context.peer()
            answer_id = ((REQUEST_ID_HEADER, request_id),)
            with server_span(method, transport, metadata) as span:
                try:
                    context.set_trailing_metadata(answer_id)
                    if decode is not None:
                        try:
                            request = decode(request)
                        except DecodeError:
                            # Who calls and their rate come first, as for any call; then the bytes.
                            guard.admit(method, None, metadata, context.auth_context(), peer)
                            raise malformed(method) from None
                    booking_id = getattr(request, "booking_id", "")
                    admitted = guard.admit(method, request, metadata, context.auth_context(), peer)
                    caller = admitted.subject
                    caller_var.set(admitted)
                    limits.enter()
                    seconds = limits.deadline(context.time_remaining())
                    deadline_token = deadline_var.set(time.monotonic() + seconds)  # for the peer calls
                    try:
                        async with asyncio.timeout(seconds) as deadline:
                            response = await behavior(request, context)
                            booking_id = getattr(response, "booking_id", booking_id)  # a new booking's
                            return response
                    except TimeoutError:
                        if not deadline.expired():
                            raise
                        code, reason = grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"
                        await _abort(context, code, "The call did not finish within its deadline.")
                    finally:
                        deadline_var.reset(deadline_token)
                        limits.leave()
                except CallRefused as refusal:
                    code, reason = refusal.code, refusal.reason
                    await _abort(
                        context, **_abort_args(rpc_status.to_status(refusal_status(refusal)), answer_id)
                    )
                except BookingError as error:
                    code, reason = code_for(error), error.reason
                    await _abort(context, **_abort_args(rpc_status.to_status(status_of(error)), answer_id))
                except grpc.aio.AbortError:
                    code = context.code() or code
                    raise
                except asyncio.CancelledError:
                    if code == grpc.StatusCode.OK:  # else the deadline's, its status no longer sendable
                        code = grpc.StatusCode.CANCELLED
                    raise
                except Exception:
                    code, reason = grpc.StatusCode.INTERNAL, "INTERNAL"
                    log.exception("unexpected error", extra={"method": method, "request_id": request_id})
                    await _abort(
                        context, **_abort_args(rpc_status.to_status(internal_status(request_id)), answer_id)
                    )
                finally:
                    elapsed = time.perf_counter() - started
                    span.set_code(code)
                    observe_call(transport, method, code.name, elapsed)
                    if log.isEnabledFor(level):
                        log.log(
                            level,
                            "rpc",
                            extra={
                                "method": method,
                                "code": code.name,
                                "reason": reason,
                                "duration_ms": round(elapsed * 1000, 2),
                                "caller": caller,
                                "peer": peer,
                                "transport": transport,
                                "request_id": request_id,
                                "booking_id": _loggable(booking_id),  # ids, never guest data
                            },
                        )
                    request_id_var.reset(token)

        return call

    def _server_stream(self, method: str, behavior: StreamBehavior, decode: Decoder | None) -> StreamBehavior:
        """A server-streaming RPC (WatchBookings) takes the unary path's request id, decoding, guard,
        error statuses (raised before or between messages) and one access-log line when it ends.
        Not the calls-in-flight limit nor the default deadline: a stream is meant to stay open
        (the RPC has its own limit on open streams); a deadline the client sets still ends it, and
        so does the expiry of the token that opened it (auth/lifetime.py), as UNAUTHENTICATED."""
        guard = self._guard

        async def call(request: Any, context: Context) -> AsyncIterator[Any]:
            metadata = tuple(context.invocation_metadata() or ())
            request_id = _request_id(metadata)
            request_id_var.set(request_id)
            started = time.perf_counter()
            code, reason, caller, sent = grpc.StatusCode.OK, "", "", 0
            transport, peer = getattr(context, "transport", "grpc"), context.peer()
            answer_id = ((REQUEST_ID_HEADER, request_id),)
            status: Any = None
            try:
                context.set_trailing_metadata(answer_id)
                if decode is not None:
                    try:
                        request = decode(request)
                    except DecodeError:
                        guard.admit(method, None, metadata, context.auth_context(), peer)
                        raise malformed(method) from None
                admitted = guard.admit(method, request, metadata, context.auth_context(), peer)
                caller = admitted.subject
                caller_var.set(admitted)
                # No longer than the caller's token: then UNAUTHENTICATED TOKEN_EXPIRED (lifetime.py).
                async for response in within_lifetime(admitted, behavior(request, context)):
                    sent += 1
                    yield response
            except CallRefused as refusal:
                code, reason = refusal.code, refusal.reason
                status = refusal_status(refusal)
            except BookingError as error:
                code, reason = code_for(error), error.reason
                status = status_of(error)
            except grpc.aio.AbortError:
                code = context.code() or code
                raise
            except (asyncio.CancelledError, GeneratorExit):
                code = grpc.StatusCode.CANCELLED  # the client left (or the server stopped it)
                raise
            except Exception:
                code, reason = grpc.StatusCode.INTERNAL, "INTERNAL"
                log.exception("unexpected error", extra={"method": method, "request_id": request_id})
                status = internal_status(request_id)
            finally:
                elapsed = time.perf_counter() - started
                observe_call(transport, method, code.name, elapsed)
                log.info(
                    "rpc",
                    extra={
                        "method": method,
                        "code": code.name,
                        "reason": reason,
                        "duration_ms": round(elapsed * 1000, 2),
                        "messages": sent,
                        "caller": caller,
                        "peer": peer,
                        "transport": transport,
                        "request_id": request_id,
                    },
                )
            if status is not None:
                try:
                    await context.abort(**_abort_args(rpc_status.to_status(status), answer_id))
                except grpc.aio.AbortError:
                    raise
                except Exception:  # the call ended first (the client left): no one to tell
                    log.debug("a stream's status could not be sent", extra={"request_id": request_id})

        return call

    def _stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        """Streams pass the same guard; they are not logged per call."""
        guard = self._guard

        async def call(request: Any, context: Context) -> AsyncIterator[Any]:
            metadata = tuple(context.invocation_metadata() or ())
            try:
                caller_var.set(guard.admit(method, None, metadata, context.auth_context(), context.peer()))
            except CallRefused as refusal:
                log.info(
                    "rpc refused",
                    extra={"method": method, "code": refusal.code.name, "reason": refusal.reason},
                )
                await context.abort(**_abort_args(rpc_status.to_status(refusal_status(refusal))))
            async for response in behavior(request, context):
                yield response

        return call


def _request_id(metadata: tuple[tuple[str, str | bytes], ...]) -> str:
    """The caller's x-request-id if request_context's rule keeps it, else a fresh UUID."""
    for key, value in metadata:
        if key == REQUEST_ID_HEADER:
            return request_id_from(value)
    return request_id_from(None)


async def _abort(context: Context, *args: Any, **kwargs: Any) -> None:
    """context.abort (which raises AbortError), unless the call is over already: its client left,
    or the client's own deadline ended the call at the moment ours did (grpc.aio then refuses to
    send a status). Nothing is left to tell anyone: the call ends as cancelled (asyncio's
    CancelledError, which grpc.aio logs at DEBUG), not as an unexpected error of ours logged with
    its traceback and counted INTERNAL."""
    try:
        await context.abort(*args, **kwargs)
    except grpc.aio.AbortError:
        raise
    except Exception:
        if not context.done():
            raise
        raise asyncio.CancelledError from None


def _abort_args(status: grpc.Status, answer_id: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    return {
        "code": status.code,
        "details": status.details,
        "trailing_metadata": (*status.trailing_metadata, *answer_id),
    }


def _loggable(booking_id: str) -> str:
    """A booking id as the access log writes it: only a well-formed one; anything a client wrote in
    its place (a name, an address, 100,000 characters) is never copied into the log."""
    return booking_id if not booking_id or is_uuid(booking_id) else "(not a booking id)"


async def _no_such_method(request: bytes, context: Context) -> None:
    raise CallRefused(
        grpc.StatusCode.UNIMPLEMENTED,
        "METHOD_NOT_FOUND",
        "This server has no such method; list its methods with server reflection.",
    )
