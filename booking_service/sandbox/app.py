"""Sandbox stand-ins for the inventory, pricing and payment services, on the seed's paths.

One ASGI application serves all three. Mutating calls honour an `Idempotency-Key` header (the same
key with the same body replays the first answer; with another body it is refused with 422). A
malformed request is a 4xx with a message. `/admin/...` sets faults (latency, error and timeout
rates, a switch to go down, a targeted failure of the next calls to a path: before or after the
work is done, or late, the work done only after the caller gave up), capacities and declines, and
shows the state, so tests and demos can break the peers on purpose and check that the booking
service converges.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import random
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from booking_service.sandbox.state import Inventory, Payments, Refused, quote

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[dict[str, Any], re.Match[str]], dict[str, Any]]

PEERS = ("inventory", "pricing", "payments")


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    down: bool = False


#: How a call is failed on purpose (/admin/fail-next): before the work (error: a 503 at once;
#: timeout: no answer for hang_seconds, then a 503), after it (error_after, timeout_after: the work is
#: done, its answer lost), or late (no answer for hang_seconds, then the work is done and answered:
#: what a request the caller gave up on does when it reaches the service after all).
FAIL_MODES = ("error", "timeout", "error_after", "timeout_after", "late")


@dataclass
class FailNext:
    path: str
    mode: str  # error, timeout, error_after, timeout_after, late (FAIL_MODES)
    count: int
    method: str = ""  # only requests with this method (any, when empty)


@dataclass
class Sandbox:
    inventory: Inventory = field(default_factory=Inventory)
    payments: Payments = field(default_factory=Payments)
    faults: dict[str, Faults] = field(default_factory=lambda: {p: Faults() for p in PEERS})
    fail_next: list[FailNext] = field(default_factory=list)
    idempotency: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    #: (path, traceparent) of the latest peer requests that carried a W3C trace context.
    traceparents: collections.deque[tuple[str, str]] = field(
        default_factory=lambda: collections.deque(maxlen=200)
    )
    #: How long a "timeout" fault keeps the caller waiting.
    hang_seconds: float = 30.0


class SandboxApp:
    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox or Sandbox()
        s = self.sandbox
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = [
            ("POST", re.compile(r"/api/v1/inventory/check-availability"), "inventory", self._check),
            ("POST", re.compile(r"/api/v1/inventory/reserve"), "inventory", self._reserve),
            (
                "POST",
                re.compile(r"/api/v1/inventory/release"),
                "inventory",
                lambda b, m: self._hold_json(s.inventory.release(_text(b, "reservation_id"))),
            ),
            ("POST", re.compile(r"/api/v1/inventory/update-reservation"), "inventory", self._update),
            ("POST", re.compile(r"/api/v1/pricing/calculate"), "pricing", self._calculate),
            (
                "POST",
                re.compile(r"/api/v1/pricing/estimate"),
                "pricing",
                lambda b, m: {"estimate": self._calculate(b, m)["total"]},
            ),
            ("POST", re.compile(r"/api/v1/payments/intents"), "payments", self._create_intent),
            (
                "POST",
                re.compile(r"/api/v1/payments/intents/(?P<id>[^/]+)/confirm"),
                "payments",
                lambda b, m: s.payments.confirm(m["id"]).as_json(),
            ),
            (
                "POST",
                re.compile(r"/api/v1/payments/intents/(?P<id>[^/]+)/cancel"),
                "payments",
                lambda b, m: s.payments.cancel(m["id"]).as_json(),
            ),
            (
                "GET",
                re.compile(r"/api/v1/payments/intents/(?P<id>[^/]+)"),
                "payments",
                lambda b, m: s.payments.get(m["id"]).as_json(),
            ),
            ("POST", re.compile(r"/api/v1/payments/refunds"), "payments", self._refund),
            # Reads for reconciliation (booking-service reconcile): a peer's own view, by booking.
            (
                "GET",
                re.compile(r"/api/v1/inventory/reservations/(?P<id>[^/]+)"),
                "inventory",
                lambda b, m: self._hold_json(s.inventory.get(m["id"])),
            ),
            (
                "GET",
                re.compile(r"/api/v1/inventory/reservations"),
                "inventory",
                lambda b, m: {
                    "reservations": [
                        self._hold_json(h) for h in s.inventory.of_booking(_text(b, "booking_id"))
                    ]
                },
            ),
            (
                "GET",
                re.compile(r"/api/v1/payments/intents"),
                "payments",
                lambda b, m: {
                    "intents": [i.as_json() for i in s.payments.of_booking(_text(b, "booking_id"))]
                },
            ),
            (
                "GET",
                re.compile(r"/api/v1/payments/refunds"),
                "payments",
                lambda b, m: {"refunds": s.payments.refunds_of(_text(b, "intent_id"))},
            ),
            ("GET", re.compile(r"/admin/state"), "admin", lambda b, m: self._state()),
            ("POST", re.compile(r"/admin/faults"), "admin", self._set_faults),
            ("POST", re.compile(r"/admin/fail-next"), "admin", self._set_fail_next),
            ("POST", re.compile(r"/admin/capacity"), "admin", self._set_capacity),
            ("POST", re.compile(r"/admin/decline-next"), "admin", self._set_decline),
            ("POST", re.compile(r"/admin/reset"), "admin", self._reset),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = await _body(receive)
        if method == "GET" and scope.get("query_string"):
            query = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"))
            body = json.dumps({name: values[-1] for name, values in query.items()}).encode()
        status, answer = await self._handle(method, path, headers, body)
        payload = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        for verb, pattern, peer, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None or verb != method:
                continue
            s = self.sandbox
            if peer != "admin":
                s.calls.append((method, path))
                if "traceparent" in headers:
                    s.traceparents.append((path, headers["traceparent"]))
                faults = s.faults[peer]
                if faults.latency_ms:
                    await asyncio.sleep(faults.latency_ms / 1000)
                if faults.down or random.random() < faults.error_rate:
                    return 503, _error("unavailable", f"the {peer} sandbox is down")
                if random.random() < faults.timeout_rate:
                    await asyncio.sleep(s.hang_seconds)
            failure = self._take_fail_next(method, path)
            if failure in ("error", "timeout"):
                return await self._fail(failure)
            if failure == "late":  # the work is done after the caller gave up (a request that arrives late)
                await asyncio.sleep(s.hang_seconds)
            try:
                request = json.loads(body) if body else {}
                if not isinstance(request, dict):
                    raise Refused(400, "invalid_request", "the body must be a JSON object")
                status, answer = 200, self._idempotent(method, path, headers, request, match, handler)
            except Refused as refusal:
                status, answer = refusal.status, _error(refusal.code, refusal.message)
            except (json.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
                status, answer = 400, _error("invalid_request", f"malformed request: {exc}")
            if failure in ("error_after", "timeout_after"):
                return await self._fail(failure.removesuffix("_after"))
            return status, answer
        return 404, _error("not_found", f"no {method} {path} here")

    def _idempotent(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        request: dict[str, Any],
        match: re.Match[str],
        handler: Handler,
    ) -> dict[str, Any]:
        key = headers.get("idempotency-key")
        if method == "GET" or key is None or path.startswith("/admin"):
            return handler(request, match)
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        stored = self.sandbox.idempotency.get((path, key))
        if stored is not None:
            if stored[0] != fingerprint:
                raise Refused(422, "idempotency_key_reused", f"key {key!r} was used with another request")
            if stored[1] != 200:
                raise Refused(stored[1], str(stored[2]["error"]["code"]), str(stored[2]["error"]["message"]))
            return stored[2]
        try:
            answer = handler(request, match)
        except Refused as refusal:
            if refusal.status < 500:  # a business refusal is an answer too: the same again on retry
                self.sandbox.idempotency[(path, key)] = (
                    fingerprint,
                    refusal.status,
                    _error(refusal.code, refusal.message),
                )
            raise
        self.sandbox.idempotency[(path, key)] = (fingerprint, 200, answer)
        return answer

    def _take_fail_next(self, method: str, path: str) -> str | None:
        for failure in self.sandbox.fail_next:
            if failure.count > 0 and path.startswith(failure.path) and failure.method in ("", method):
                failure.count -= 1
                return failure.mode
        return None

    async def _fail(self, mode: str) -> tuple[int, dict[str, Any]]:
        if mode == "timeout":
            await asyncio.sleep(self.sandbox.hang_seconds)
        return 503, _error("unavailable", "injected failure")

    # --- inventory ---------------------------------------------------------------------------------

    def _check(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        start, end = _times(b)
        exclude = b.get("exclude_reservation_ids") or []
        if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
            raise Refused(400, "invalid_request", "exclude_reservation_ids must be a list of reservation ids")
        available, remaining, reason = self.sandbox.inventory.check(
            _text(b, "venue_id"), b.get("unit_id") or None, start, end, _party(b), exclude
        )
        return {"available": available, "remaining_capacity": max(remaining, 0), "reason": reason}

    def _reserve(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        start, end = _times(b)
        hold = self.sandbox.inventory.reserve(
            _text(b, "booking_id"), _text(b, "venue_id"), b.get("unit_id") or None, start, end, _party(b)
        )
        return self._hold_json(hold)

    def _update(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        start, end = _times(b)
        hold = self.sandbox.inventory.update(
            _text(b, "reservation_id"), b.get("unit_id") or None, start, end, _party(b)
        )
        return self._hold_json(hold)

    @staticmethod
    def _hold_json(hold: Any) -> dict[str, Any]:
        return {
            "reservation_id": hold.reservation_id,
            "booking_id": hold.booking_id,
            "venue_id": hold.venue_id,
            "unit_id": hold.unit_id,
            "start_time": hold.start.isoformat(),
            "end_time": hold.end.isoformat(),
            "party_size": hold.party_size,
            "status": hold.status,
        }

    # --- pricing and payments ----------------------------------------------------------------------

    def _calculate(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        start, end = _times(b)
        return quote(_text(b, "venue_type"), start, end, _party(b), str(b.get("time_zone") or "UTC"))

    def _create_intent(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        intent = self.sandbox.payments.create(
            _text(b, "booking_id"), int(b["amount_minor"]), _text(b, "currency")
        )
        return intent.as_json()

    def _refund(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        metadata = b.get("metadata") or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise Refused(400, "invalid_request", "metadata must be an object of strings")
        return self.sandbox.payments.refund(
            _text(b, "intent_id"), int(b["amount_minor"]), str(b.get("reason", "")), metadata
        )

    # --- admin -------------------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        s = self.sandbox
        return {
            "holds": [self._hold_json(h) for h in s.inventory.holds.values()],
            "intents": [i.as_json() for i in s.payments.intents.values()],
            "refunds": list(s.payments.refunds.values()),
            "calls": len(s.calls),
            "traceparents": [{"path": p, "traceparent": t} for p, t in s.traceparents],
        }

    def _set_faults(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        peers = PEERS if b.get("peer", "*") == "*" else (_text(b, "peer"),)
        if not set(peers) <= set(PEERS):
            raise Refused(400, "invalid_peer", f"peer is one of {', '.join(PEERS)} or *")
        for peer in peers:
            faults = self.sandbox.faults[peer]
            for name in ("latency_ms", "error_rate", "timeout_rate", "down"):
                if name in b:
                    kind = type(getattr(faults, name))
                    if not isinstance(b[name], int | float | bool) or (kind is bool) != isinstance(
                        b[name], bool
                    ):
                        raise Refused(400, "invalid_fault", f"{name} must be a {kind.__name__}")
                    setattr(faults, name, kind(b[name]))
        if "hang_seconds" in b:
            self.sandbox.hang_seconds = float(b["hang_seconds"])
        return {p: vars(f) for p, f in self.sandbox.faults.items()}

    def _set_fail_next(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        mode = _text(b, "mode")
        if mode not in FAIL_MODES:
            raise Refused(400, "invalid_mode", f"mode is one of {', '.join(FAIL_MODES)}")
        method = str(b.get("method", "")).upper()
        self.sandbox.fail_next.append(FailNext(_text(b, "path"), mode, int(b.get("count", 1)), method))
        return {"pending": len(self.sandbox.fail_next)}

    def _set_capacity(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        self.sandbox.inventory.capacity[_text(b, "venue_id")] = int(b["capacity"])
        return {"venue_id": b["venue_id"], "capacity": int(b["capacity"])}

    def _set_decline(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        self.sandbox.payments.decline_next = int(b.get("count", 1))
        return {"decline_next": self.sandbox.payments.decline_next}

    def _reset(self, b: dict[str, Any], _: re.Match[str]) -> dict[str, Any]:
        """Ends every injected fault: faults, fail-next and decline-next. Capacities set through
        /admin/capacity stay (they describe venues, not faults), as do holds, intents and refunds."""
        self.sandbox.faults = {p: Faults() for p in PEERS}
        self.sandbox.fail_next.clear()
        self.sandbox.payments.decline_next = 0
        return {"reset": True}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refused(400, "invalid_request", f"{name} is required")
    return value


def _party(body: dict[str, Any]) -> int:
    party = body.get("party_size")
    if not isinstance(party, int) or party < 1:
        raise Refused(400, "invalid_request", "party_size must be a positive whole number")
    return party


def _times(body: dict[str, Any]) -> tuple[datetime, datetime]:
    try:
        start, end = (
            datetime.fromisoformat(_text(body, "start_time")),
            datetime.fromisoformat(_text(body, "end_time")),
        )
    except ValueError:
        raise Refused(400, "invalid_request", "start_time and end_time must be RFC 3339 times") from None
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise Refused(400, "invalid_request", "start_time and end_time need a zone, and end after start")
    return start, end


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
