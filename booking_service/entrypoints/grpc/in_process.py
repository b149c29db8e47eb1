"""Calling the service's methods (unary and server-streaming) in process, through the same
interceptors as the network.

The REST gateway's equivalent of grpc-gateway's RegisterXXXHandlerServer: no socket, no HTTP/2, no
serialisation, but the same interceptor chain (request id, error statuses, access log) and the
same servicer code as a call over gRPC.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeAlias, cast

import grpc


class _CallDetails(grpc.HandlerCallDetails):
    def __init__(self, method: str, metadata: tuple[tuple[str, str], ...]) -> None:
        self.method = method
        self.invocation_metadata = metadata


class _Registry:
    """Stands in for a server while servicers register, and keeps their method handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        """Every generated registration also calls add_registered_method_handlers; nothing to keep."""

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        for name, handler in handlers.items():
            self.handlers[f"/{service}/{name}"] = handler


# A string: grpc.RpcMethodHandler is only generic in the type stubs.
Continuation: TypeAlias = (
    "Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]]"
)


class InProcessInvoker:
    def __init__(
        self, register: Callable[[Any], None], interceptors: Sequence[grpc.aio.ServerInterceptor]
    ) -> None:
        registry = _Registry()
        register(registry)
        self._handlers = registry.handlers
        self._interceptors = list(interceptors)

    def __contains__(self, method: str) -> bool:
        return method in self._handlers

    async def call(
        self,
        method: str,
        request: Any,
        context: grpc.aio.ServicerContext[Any, Any],
        metadata: tuple[tuple[str, str], ...],
    ) -> Any:
        """Runs one unary call; an error leaves as grpc.aio.AbortError with its status on `context`."""
        resolved = await self._resolve(method, metadata)
        if resolved.unary_unary is None:
            raise LookupError(f"{method} is not a unary method")
        # On a grpc.aio server every unary behaviour is a coroutine function taking an aio context.
        behavior = cast(Callable[[Any, Any], Awaitable[Any]], resolved.unary_unary)
        return await behavior(request, context)

    def stream(
        self,
        method: str,
        request: Any,
        context: grpc.aio.ServicerContext[Any, Any],
        metadata: tuple[tuple[str, str], ...],
    ) -> AsyncIterator[Any]:
        """Runs one server-streaming call (WatchBookings): its messages, as the chain passes them; an
        error, before or between them, leaves as grpc.aio.AbortError with its status on `context`."""

        async def messages() -> AsyncIterator[Any]:
            resolved = await self._resolve(method, metadata)
            if resolved.unary_stream is None:
                raise LookupError(f"{method} is not a server-streaming method")
            behavior = cast(Callable[[Any, Any], AsyncIterator[Any]], resolved.unary_stream)
            async for message in behavior(request, context):
                yield message

        return messages()

    async def _resolve(
        self, method: str, metadata: tuple[tuple[str, str], ...]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = self._handlers[method]

        async def servicer(details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
            return handler

        continuation: Continuation = servicer
        for interceptor in reversed(self._interceptors):
            continuation = functools.partial(interceptor.intercept_service, continuation)
        resolved = await continuation(_CallDetails(method, metadata))
        if resolved is None:
            raise LookupError(f"{method} has no handler")
        return resolved
