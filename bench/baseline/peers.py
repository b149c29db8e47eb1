"""The peers the baseline calls per create, with one shared httpx.AsyncClient (the seed's endpoints;
the same paths and bodies as booking_service/adapters/peers/clients.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from bench.baseline.schemas import BookingCreate


class PeerError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"peer answered {status}: {body}")
        self.status, self.body = status, body


@dataclass
class Quote:
    quote_id: str
    amount_minor: int
    currency: str
    requires_prepayment: bool


def _stay(request: BookingCreate) -> dict[str, Any]:
    return {
        "venue_id": request.venue.venue_id,
        "venue_type": request.venue.venue_type,
        "unit_id": request.unit_id,
        "start_time": request.start_time.isoformat(),
        "end_time": request.end_time.isoformat(),
        "party_size": request.party_size,
        "time_zone": request.venue.time_zone,
    }


class Peers:
    def __init__(self, client: httpx.AsyncClient, inventory: str, pricing: str, payment: str) -> None:
        self.client = client
        self.inventory, self.pricing, self.payment = inventory, pricing, payment

    async def _post(self, url: str, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        response = await self.client.post(url, json=body, headers=headers)
        if response.status_code >= 400:
            raise PeerError(response.status_code, response.json())
        data: dict[str, Any] = response.json()
        return data

    async def calculate_price(self, request: BookingCreate) -> Quote:
        data = await self._post(f"{self.pricing}/api/v1/pricing/calculate", _stay(request))
        total = data["total"]
        return Quote(data["quote_id"], total["amount_minor"], total["currency"], data["requires_prepayment"])

    async def reserve(self, booking_id: uuid.UUID, request: BookingCreate) -> str:
        body = {"booking_id": str(booking_id), **_stay(request)}
        data = await self._post(
            f"{self.inventory}/api/v1/inventory/reserve", body, key=f"booking:{booking_id}:reserve"
        )
        return str(data["reservation_id"])

    async def release(self, reservation_id: str) -> None:
        body = {"reservation_id": reservation_id}
        await self._post(f"{self.inventory}/api/v1/inventory/release", body, key=f"release:{reservation_id}")

    async def create_payment_intent(self, booking_id: uuid.UUID, quote: Quote) -> str:
        body = {"booking_id": str(booking_id), "amount_minor": quote.amount_minor, "currency": quote.currency}
        data = await self._post(
            f"{self.payment}/api/v1/payments/intents", body, key=f"booking:{booking_id}:intent"
        )
        return str(data["intent_id"])
