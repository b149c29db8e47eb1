"""One peer over HTTP: httpx requests on the peer's transport (engine.py: httpx's API over aiohttp),
each attempt bounded by the peer timeout and by what is left of the caller's deadline, bounded
retries with full-jitter exponential backoff on transient failures only, a circuit breaker that
counts each logical call once, answers capped in size, and the request id and (when tracing is
on) the W3C trace context passed on, with a CLIENT span per attempt.

Requests go straight to the transport: an AsyncClient would add cookies, redirects, auth and URL
merging, none of which a peer call uses. Tests may pass another transport (httpx.MockTransport).

The rule for peer errors (DESIGN.md, "Peer errors have two kinds"), in this one place:
- transient: no connection, a timeout, a connection dropped or an unreadable answer, or the status
  408, 425, 429 or any 5xx. Retried (PEER_RETRIES) after a pause drawn uniformly from
  [0, min(1 s, 50 ms x 2^attempt)], but never past the caller's deadline (request_context.py): an
  attempt gets min(PEER_TIMEOUT_SECONDS, time left) and no attempt or pause starts that could not
  end before the deadline. Retrying is safe because every mutating call carries its idempotency key.
  When they are spent: PeerUnavailable.
- permanent: any other status that is not a 2xx (a 4xx, a 3xx). Never retried; raised as
  PeerAnswer, which clients.py turns into the domain's errors (PeerRejected, SoldOut, ...). An
  answer larger than PEER_MAX_RESPONSE_BYTES is permanent too: PeerRejected, without reading it all.

The breaker (breaker.py) judges the peer, so it sees one outcome per call, after its retries:
PeerUnavailable or a too large answer is a failure, an answer (2xx or permanent) a success; a call
that was cancelled or raised anything else counts for nothing, and so does a call that ran out of
the caller's deadline without the peer having failed it (each attempt that went wrong was cut
short by the deadline, before PEER_TIMEOUT_SECONDS, or none could start): the caller was in a
hurry, the peer was not down, and a client that calls with short deadlines must not open the
circuit for every other caller. While the circuit is open: PeerUnavailable at once (metadata
`circuit: open`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any

import httpx

from booking_service.adapters.peers.breaker import CircuitBreaker, CircuitOpen
from booking_service.adapters.peers.engine import peer_transport
from booking_service.domain.errors import PeerRejected, PeerUnavailable
from booking_service.observability.metrics import observe_peer_request
from booking_service.observability.tracing import peer_span
from booking_service.request_context import compensating_var, remaining_seconds, request_id_var

log = logging.getLogger("booking_service.peers")

#: Statuses below 500 that say "try again" (Request Timeout, Too Early, Too Many Requests).
_TRANSIENT_4XX = frozenset({408, 425, 429})
#: Backoff before retry n (from 0): uniform in [0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**n)] seconds.
_BACKOFF_BASE, _BACKOFF_CAP = 0.05, 1.0
#: An attempt with less time than this (seconds) before the deadline is not started.
_MIN_ATTEMPT_SECONDS = 0.05


class _OutOfTime(PeerUnavailable):
    """PeerUnavailable because the caller's deadline ran out, not because the peer failed: each
    attempt that went wrong timed out early, cut short by the deadline, or none could start. The
    caller sees PeerUnavailable as for any other; the breaker does not count it."""


def transient(status: int) -> bool:
    """Whether an HTTP status from a peer is worth retrying (the rule in this module's docstring)."""
    return status >= 500 or status in _TRANSIENT_4XX


class PeerAnswer(Exception):
    """The peer answered with a permanent error (a 4xx other than 408/425/429, or a 3xx): `status`,
    its error `code` and `message` (from the body's `error` object, empty when absent)."""

    def __init__(self, peer: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{peer} answered {status} {code}: {message}")
        self.peer, self.status, self.code, self.message = peer, status, code, message


class PeerHttp:
    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout: float = 2.0,
        retries: int = 2,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = 1 << 20,
    ) -> None:
        """`timeout`: seconds per attempt; `retries`: attempts after the first for transient
        failures; `max_response_bytes`: the largest answer body read (bytes, after decoding)."""
        self.name = name
        self.breaker = breaker or CircuitBreaker()
        self._retries = retries
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self.base_url = httpx.URL(base_url)
        self._base = base_url.rstrip("/")
        self._extensions = self._limits(timeout)
        self._transport = transport or peer_transport()

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, key: str | None = None
    ) -> Any:
        """The answer's JSON for a 2xx. Raises PeerAnswer (permanent answer), PeerUnavailable
        (transient failures outlasted the retries or the deadline, or the circuit is open) or
        PeerRejected (the answer was larger than max_response_bytes)."""
        headers = {"Accept-Encoding": "identity"}
        request_id = request_id_var.get()  # valid by construction (request_context.py)
        if request_id:
            headers["X-Request-Id"] = request_id
        if key is not None:
            headers["Idempotency-Key"] = key
        content = b""
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        try:
            ticket = self.breaker.enter()
        except CircuitOpen:
            observe_peer_request(self.name, "short_circuited")
            raise PeerUnavailable(
                f"The {self.name} service is failing; its circuit is open. Retry shortly.",
                {"peer": self.name, "circuit": "open"},
            ) from None
        with ticket:
            try:
                answer = await self._attempts(method, path, content, headers)
            except PeerAnswer:
                ticket.succeeded()  # the peer is up and said no
                raise
            except _OutOfTime:
                raise  # the caller's deadline, not the peer: counts for nothing
            except (PeerUnavailable, PeerRejected):
                if not compensating_var.get():  # a compensation's failure is its request's, counted once
                    ticket.failed()
                raise
            ticket.succeeded()
            return answer

    async def _attempts(self, method: str, path: str, content: bytes, headers: dict[str, str]) -> Any:
        url = httpx.URL(self._base + path)
        problem = "no time was left within the caller's deadline"
        peer_failed = False  # whether an attempt went wrong that the deadline did not cut short
        for attempt in range(self._retries + 1):
            limit, extensions = self._timeout, self._extensions
            remaining = remaining_seconds()
            cut = False
            if remaining is not None:
                if remaining < _MIN_ATTEMPT_SECONDS:
                    break
                if remaining < limit:
                    limit, extensions, cut = remaining, self._limits(remaining), True
            started = time.perf_counter()
            try:
                with peer_span(self.name, method, self.base_url, path, headers, attempt) as span:
                    request = httpx.Request(
                        method, url, content=content, headers=headers, extensions=extensions
                    )
                    async with asyncio.timeout(limit):
                        status, data = await self._exchange(request, path)
                    span.answered(status)
            except (httpx.HTTPError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                timed_out = isinstance(exc, TimeoutError | httpx.TimeoutException)
                peer_failed = peer_failed or not (cut and timed_out)
            else:
                if not transient(status):
                    outcome = "ok" if 200 <= status < 300 else "rejected"
                    observe_peer_request(self.name, outcome, time.perf_counter() - started)
                    return self._answer(status, data)
                problem = f"HTTP {status}"
                peer_failed = True
            observe_peer_request(self.name, "failed", time.perf_counter() - started)
            log.warning(
                "peer call failed",
                extra={"peer": self.name, "path": path, "attempt": attempt + 1, "problem": problem},
            )
            if attempt == self._retries:
                break
            pause = random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt))  # full jitter
            remaining = remaining_seconds()
            if remaining is not None and remaining < pause + _MIN_ATTEMPT_SECONDS:
                break  # no attempt could be made after the pause
            await asyncio.sleep(pause)
        failure = PeerUnavailable if peer_failed else _OutOfTime
        message = f"The {self.name} service did not answer ({problem}). Retry shortly."
        raise failure(message, {"peer": self.name})

    async def _exchange(self, request: httpx.Request, path: str) -> tuple[int, bytes]:
        """Sends the request and reads the answer's body, at most max_response_bytes of it: a larger
        one is abandoned (its connection closed) and raises PeerRejected."""
        response = await self._transport.handle_async_request(request)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise self._too_large(path)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise self._too_large(path)
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response.status_code, b"".join(chunks)

    def _too_large(self, path: str) -> PeerRejected:
        observe_peer_request(self.name, "failed")
        return PeerRejected(
            f"The {self.name} service answered {path} with more than {self._max_bytes} bytes.",
            {"peer": self.name, "code": "answer_too_large"},
        )

    def _answer(self, status: int, content: bytes) -> Any:
        try:
            data = json.loads(content) if content else {}
        except ValueError:
            data = {}
        if not 200 <= status < 300:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            error = error if isinstance(error, dict) else {}
            raise PeerAnswer(self.name, status, str(error.get("code", "")), str(error.get("message", "")))
        return data

    @staticmethod
    def _limits(seconds: float) -> dict[str, Any]:
        return {"timeout": httpx.Timeout(seconds, connect=min(seconds, 1.0)).as_dict()}

    async def aclose(self) -> None:
        await self._transport.aclose()
