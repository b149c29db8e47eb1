"""The three peers' HTTP APIs (the seed's endpoints), as the service layer's ports."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from booking_service.adapters.peers.http import PeerAnswer, PeerHttp
from booking_service.domain.errors import PaymentDeclined, PeerRejected, SoldOut, UnitUnavailable
from booking_service.domain.pricing import CancellationPolicy, PricingSnapshot
from booking_service.domain.values import Money, TimeSlot
from booking_service.service_layer.peers import Capacity, Hold, Intent, PeerRefund, Stay


def _stay(stay: Stay) -> dict[str, Any]:
    return {
        "venue_id": stay.venue_id,
        "venue_type": f"VENUE_TYPE_{stay.venue_type.value}" if stay.venue_type else None,
        "unit_id": stay.unit_id,
        "start_time": stay.slot.start.isoformat(),
        "end_time": stay.slot.end.isoformat(),
        "party_size": stay.party_size,
        "time_zone": stay.time_zone,
    }


def _segment(value: str) -> str:
    """An id as one path segment: everything but letters, digits and `-._~` percent-encoded, so that
    `/`, `?`, `#` or `%` in an id a peer returned never reach another path. An empty id, `.` or `..`
    (which URL normalisation, yarl's in aiohttp included, would turn into another path even when
    encoded as %2E) raises PeerRejected: no call is made."""
    if value in ("", ".", ".."):
        raise PeerRejected(
            f"The id {value!r} cannot be used in a peer's path.", {"peer": "payments", "code": "bad_id"}
        )
    return quote(value, safe="")


def _rejected(answer: PeerAnswer) -> PeerRejected:
    return PeerRejected(
        f"The {answer.peer} service refused a request ({answer.status} {answer.code}): {answer.message}",
        {"peer": answer.peer, "code": answer.code},
    )


class InventoryClient:
    def __init__(self, http: PeerHttp) -> None:
        self.http = http

    async def check(self, stay: Stay, exclude: Sequence[str] = ()) -> Capacity:
        body = {**_stay(stay), "exclude_reservation_ids": list(exclude)}
        try:
            data = await self.http.call("POST", "/api/v1/inventory/check-availability", body)
        except PeerAnswer as answer:
            raise _rejected(answer) from None
        with _reading(self.http.name):
            return Capacity(
                bool(data["available"]), int(data.get("remaining_capacity", 0)), str(data.get("reason", ""))
            )

    async def reserve(self, key: str, booking_id: str, stay: Stay) -> str:
        try:
            data = await self.http.call(
                "POST", "/api/v1/inventory/reserve", {"booking_id": booking_id, **_stay(stay)}, key=key
            )
        except PeerAnswer as answer:
            raise self._no_room(answer, stay) from None
        with _reading(self.http.name):
            return str(data["reservation_id"])

    async def release(self, key: str, reservation_id: str) -> None:
        try:
            await self.http.call(
                "POST", "/api/v1/inventory/release", {"reservation_id": reservation_id}, key=key
            )
        except PeerAnswer as answer:
            raise _rejected(answer) from None

    async def update(self, key: str, reservation_id: str, stay: Stay) -> None:
        body = {"reservation_id": reservation_id, **_stay(stay)}
        try:
            await self.http.call("POST", "/api/v1/inventory/update-reservation", body, key=key)
        except PeerAnswer as answer:
            raise self._no_room(answer, stay) from None

    async def reservations(self, booking_id: str) -> list[Hold]:
        try:
            data = await self.http.call(
                "GET", f"/api/v1/inventory/reservations?booking_id={quote(booking_id)}"
            )
        except PeerAnswer as answer:
            raise _rejected(answer) from None
        with _reading(self.http.name):
            return [
                Hold(
                    reservation_id=str(hold["reservation_id"]),
                    booking_id=str(hold["booking_id"]),
                    held=hold["status"] == "held",
                    unit_id=hold.get("unit_id") or None,
                    slot=TimeSlot(
                        datetime.fromisoformat(hold["start_time"]), datetime.fromisoformat(hold["end_time"])
                    ),
                    party_size=int(hold["party_size"]),
                )
                for hold in data["reservations"]
            ]

    @staticmethod
    def _no_room(answer: PeerAnswer, stay: Stay) -> Exception:
        if answer.code == "unit_unavailable":
            return UnitUnavailable(
                f"Unit {stay.unit_id} of venue {stay.venue_id} is not available then (inventory service).",
                {"venue_id": stay.venue_id, "unit_id": stay.unit_id or "", "source": "inventory"},
            )
        if answer.code == "sold_out":
            return SoldOut(
                f"Venue {stay.venue_id} has no room for {stay.party_size} then: {answer.message}",
                {"venue_id": stay.venue_id, "source": "inventory"},
            )
        return _rejected(answer)


class PricingClient:
    def __init__(self, http: PeerHttp) -> None:
        self.http = http

    async def calculate(self, stay: Stay, now: datetime) -> PricingSnapshot:
        try:
            data = await self.http.call("POST", "/api/v1/pricing/calculate", _stay(stay))
        except PeerAnswer as answer:
            raise _rejected(answer) from None
        with _reading(self.http.name):
            policy = data.get("cancellation_policy") or {}
            free_until = policy.get("free_until")
            return PricingSnapshot(
                quote_id=str(data["quote_id"]),
                total=_money(data["total"]),
                requires_prepayment=bool(data.get("requires_prepayment", False)),
                cancellation=CancellationPolicy(
                    datetime.fromisoformat(free_until) if free_until else None,
                    int(policy.get("fee_percent", 0)),
                ),
            )

    async def estimate(self, stay: Stay) -> Money:
        try:
            data = await self.http.call("POST", "/api/v1/pricing/estimate", _stay(stay))
        except PeerAnswer as answer:
            raise _rejected(answer) from None
        with _reading(self.http.name):
            return _money(data["estimate"])


class PaymentsClient:
    def __init__(self, http: PeerHttp) -> None:
        self.http = http

    async def create_intent(self, key: str, booking_id: str, amount: Money) -> Intent:
        body = {"booking_id": booking_id, "amount_minor": amount.amount_minor, "currency": amount.currency}
        return await self._intent("POST", "/api/v1/payments/intents", body, key)

    async def confirm(self, key: str, intent_id: str) -> Intent:
        try:
            return await self._intent(
                "POST", f"/api/v1/payments/intents/{_segment(intent_id)}/confirm", {}, key, raw=True
            )
        except PeerAnswer as answer:
            if answer.status in (402, 409):
                raise PaymentDeclined(
                    f"The payment was not taken: {answer.message}",
                    {"intent_id": intent_id, "code": answer.code},
                ) from None
            raise _rejected(answer) from None

    async def get(self, intent_id: str) -> Intent:
        return await self._intent("GET", f"/api/v1/payments/intents/{_segment(intent_id)}", None, None)

    async def refund(
        self, key: str, intent_id: str, amount: Money, reason: str, metadata: Mapping[str, str]
    ) -> str:
        body = {
            "intent_id": intent_id,
            "amount_minor": amount.amount_minor,
            "reason": reason,
            "metadata": dict(metadata),
        }
        try:
            data = await self.http.call("POST", "/api/v1/payments/refunds", body, key=key)
        except PeerAnswer as answer:
            raise _rejected(answer) from None
        with _reading(self.http.name):
            return str(data["refund_id"])

    async def cancel(self, key: str, intent_id: str) -> Intent:
        try:
            return await self._intent(
                "POST", f"/api/v1/payments/intents/{_segment(intent_id)}/cancel", {}, key, raw=True
            )
        except PeerAnswer as answer:
            if answer.code == "intent_captured":  # captured meanwhile: the caller refunds instead
                return await self.get(intent_id)
            raise _rejected(answer) from None

    async def intents(self, booking_id: str) -> list[Intent]:
        try:
            data = await self.http.call("GET", f"/api/v1/payments/intents?booking_id={quote(booking_id)}")
        except PeerAnswer as answer:
            raise _rejected(answer) from None
        with _reading(self.http.name):
            return [_intent_of(intent) for intent in data["intents"]]

    async def refunds(self, intent_id: str) -> list[PeerRefund]:
        try:
            data = await self.http.call("GET", f"/api/v1/payments/refunds?intent_id={quote(intent_id)}")
        except PeerAnswer as answer:
            raise _rejected(answer) from None
        with _reading(self.http.name):
            return [
                PeerRefund(
                    str(refund["refund_id"]),
                    Money(int(refund["amount_minor"]), str(refund["currency"])),
                    refund.get("status") == "succeeded",
                    str(refund.get("reason", "")),
                    {str(k): str(v) for k, v in (refund.get("metadata") or {}).items()},
                )
                for refund in data["refunds"]
            ]

    async def _intent(
        self, method: str, path: str, body: dict[str, Any] | None, key: str | None, *, raw: bool = False
    ) -> Intent:
        try:
            data = await self.http.call(method, path, body, key=key)
        except PeerAnswer as answer:
            if raw:
                raise
            raise _rejected(answer) from None
        with _reading(self.http.name):
            return _intent_of(data)


@contextlib.contextmanager
def _reading(peer: str) -> Iterator[None]:
    """A 2xx answer that lacks a field this service needs, or holds one of the wrong type, is the
    peer's permanent error (PeerRejected), never a crash of ours."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PeerRejected(
            f"The {peer} service answered something malformed ({type(exc).__name__}: {exc}).",
            {"peer": peer, "code": "malformed_answer"},
        ) from None


def _intent_of(data: dict[str, Any]) -> Intent:
    currency = str(data["currency"])
    return Intent(
        intent_id=str(data["intent_id"]),
        status=str(data["status"]),
        amount=Money(int(data["amount_minor"]), currency),
        refunded=Money(int(data.get("refunded_minor", 0)), currency),
    )


def _money(data: dict[str, Any]) -> Money:
    return Money(int(data["amount_minor"]), str(data["currency"]))
