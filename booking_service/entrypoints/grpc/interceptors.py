"""The one path every unary call takes: a request id, domain errors turned into rich statuses,
unexpected errors into INTERNAL (logged with their traceback), and one access-log line per call."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import grpc
from grpc_status import rpc_status

from booking_service.domain.errors import BookingError
from booking_service.entrypoints.grpc.errors import code_for, internal_status, status_of
from booking_service.request_context import request_id_var

log = logging.getLogger("booking_service.access")
REQUEST_ID_HEADER = "x-request-id"

#: Calls logged at DEBUG rather than INFO (probes would drown the log).
_QUIET = ("/grpc.health.v1.Health/",)

Behavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        # On a grpc.aio server every unary behaviour is a coroutine function.
        wrapped = _wrap(details.method, cast(Behavior, handler.unary_unary))
        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _wrap(method: str, behavior: Behavior) -> Behavior:
    level = logging.DEBUG if method.startswith(_QUIET) else logging.INFO

    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        metadata = dict(context.invocation_metadata() or ())
        request_id = str(metadata.get(REQUEST_ID_HEADER) or uuid.uuid4())
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        reason = ""
        try:
            await context.send_initial_metadata(((REQUEST_ID_HEADER, request_id),))
            return await behavior(request, context)
        except BookingError as error:
            code, reason = code_for(error), error.reason
            await context.abort(**_abort_args(rpc_status.to_status(status_of(error))))
        except grpc.aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception:
            code, reason = grpc.StatusCode.INTERNAL, "INTERNAL"
            log.exception("unexpected error", extra={"method": method, "request_id": request_id})
            await context.abort(**_abort_args(rpc_status.to_status(internal_status(request_id))))
        finally:
            log.log(
                level,
                "rpc",
                extra={
                    "method": method,
                    "code": code.name,
                    "reason": reason,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "peer": context.peer(),
                    "transport": getattr(context, "transport", "grpc"),  # "rest" from the gateway
                    "request_id": request_id,
                },
            )
            request_id_var.reset(token)

    return call


def _abort_args(status: grpc.Status) -> dict[str, Any]:
    return {"code": status.code, "details": status.details, "trailing_metadata": status.trailing_metadata}
