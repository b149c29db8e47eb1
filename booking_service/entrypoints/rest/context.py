"""The servicer context of a call that arrived over REST and runs in process.

It carries the request's metadata in (request id, caller, headers the gateway forwards) and the
call's outcome out: initial metadata, and on abort the status code, message and trailing metadata
(with the rich google.rpc.Status in `grpc-status-details-bin`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import grpc

Metadata = tuple[tuple[str, str | bytes], ...]


class RestServicerContext(grpc.aio.ServicerContext[Any, Any]):
    transport = "rest"

    def __init__(
        self,
        metadata: tuple[tuple[str, str], ...],
        peer: str,
        auth_context: dict[str, list[bytes]] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """`timeout`: the seconds the caller gave the call (a `Grpc-Timeout` header), None for none."""
        self._metadata = metadata
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._peer = peer
        self._auth_context = auth_context or {}
        self.initial_metadata: Metadata = ()
        self._trailing: Metadata = ()
        self._code: grpc.StatusCode | None = None
        self._details = ""

    # What the call sees.
    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:  # type: ignore[override]
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def time_remaining(self) -> float:
        """Seconds left of the caller's timeout; infinite without one (the interceptor then applies
        the service's default deadline)."""
        return float("inf") if self._deadline is None else self._deadline - time.monotonic()

    def cancelled(self) -> bool:
        return False

    def done(self) -> bool:
        return self._code is not None

    # What the call says back.
    async def send_initial_metadata(self, initial_metadata: Metadata) -> None:  # type: ignore[override]
        self.initial_metadata = tuple(initial_metadata)

    async def abort(  # type: ignore[override]
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Metadata = ()
    ) -> NoReturn:
        self._code, self._details, self._trailing = code, details, tuple(trailing_metadata)
        raise grpc.aio.AbortError()

    async def abort_with_status(self, status: grpc.Status) -> NoReturn:
        await self.abort(status.code, status.details, status.trailing_metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def set_trailing_metadata(self, trailing_metadata: Metadata) -> None:  # type: ignore[override]
        self._trailing = tuple(trailing_metadata)

    def code(self) -> grpc.StatusCode | None:  # type: ignore[override]
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Metadata:  # type: ignore[override]
        return self._trailing

    # Streaming and compression have no meaning for an in-process unary call.
    async def read(self) -> NoReturn:
        raise NotImplementedError("REST calls are unary")

    async def write(self, message: Any) -> NoReturn:
        raise NotImplementedError("REST calls are unary")

    def set_compression(self, compression: grpc.Compression) -> None:
        pass

    def disable_next_message_compression(self) -> None:
        pass

    def peer_identities(self) -> Sequence[bytes] | None:
        return None

    def peer_identity_key(self) -> str | None:
        return None

    def auth_context(self) -> dict[str, Sequence[bytes]]:
        return dict(self._auth_context)

    def add_done_callback(self, callback: Callable[..., Any]) -> None:
        pass
