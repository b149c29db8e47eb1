"""The sandbox peers themselves: the seed's paths, real state, idempotent keys, clear 4xx, faults."""

from __future__ import annotations

import httpx
import pytest

STAY = {
    "venue_id": "sandbox-venue",
    "venue_type": "VENUE_TYPE_RESTAURANT",
    "start_time": "2030-01-02T18:00:00+00:00",
    "end_time": "2030-01-02T20:00:00+00:00",
    "party_size": 2,
}


@pytest.fixture
async def peer(sandbox) -> httpx.AsyncClient:  # type: ignore[misc]
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        yield client
        await client.post("/admin/reset", json={})


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/inventory/reserve", b"{nope"),
        ("/api/v1/inventory/reserve", b'{"venue_id": "v"}'),
        ("/api/v1/inventory/check-availability", b'{"venue_id": "v", "party_size": 0}'),
        (
            "/api/v1/pricing/calculate",
            b'{"venue_type": "VENUE_TYPE_SPACESHIP", "start_time": "2030-01-02T18:00:00+00:00",'
            b' "end_time": "2030-01-02T19:00:00+00:00", "party_size": 1}',
        ),
        ("/api/v1/payments/refunds", b'{"intent_id": "pi_unknown", "amount_minor": 1}'),
    ],
)
async def test_a_malformed_request_is_a_4xx_with_a_message(
    peer: httpx.AsyncClient, path: str, body: bytes
) -> None:
    response = await peer.post(path, content=body)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["message"]


async def test_keys_make_calls_idempotent(peer: httpx.AsyncClient, ids) -> None:
    body = {**STAY, "venue_id": ids("venue"), "booking_id": "b-1"}
    first = await peer.post("/api/v1/inventory/reserve", json=body, headers={"Idempotency-Key": "k-1"})
    again = await peer.post("/api/v1/inventory/reserve", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.json() == again.json()
    other = await peer.post(
        "/api/v1/inventory/reserve", json={**body, "party_size": 3}, headers={"Idempotency-Key": "k-1"}
    )
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")


async def test_capacity_is_counted_over_time(peer: httpx.AsyncClient, ids) -> None:
    venue = ids("venue")
    await peer.post("/admin/capacity", json={"venue_id": venue, "capacity": 3})
    ok = await peer.post("/api/v1/inventory/reserve", json={**STAY, "venue_id": venue, "booking_id": "a"})
    assert ok.status_code == 200
    full = await peer.post("/api/v1/inventory/reserve", json={**STAY, "venue_id": venue, "booking_id": "b"})
    assert (full.status_code, full.json()["error"]["code"]) == (409, "sold_out")
    later = {**STAY, "start_time": "2030-01-02T20:00:00+00:00", "end_time": "2030-01-02T21:00:00+00:00"}
    assert (
        await peer.post("/api/v1/inventory/reserve", json={**later, "venue_id": venue, "booking_id": "c"})
    ).status_code == 200
    await peer.post("/api/v1/inventory/release", json={"reservation_id": ok.json()["reservation_id"]})
    assert (
        await peer.post("/api/v1/inventory/reserve", json={**STAY, "venue_id": venue, "booking_id": "b"})
    ).status_code == 200


async def test_payments_move_through_their_states(peer: httpx.AsyncClient) -> None:
    intent = (
        await peer.post(
            "/api/v1/payments/intents", json={"booking_id": "b", "amount_minor": 1000, "currency": "EUR"}
        )
    ).json()
    url = f"/api/v1/payments/intents/{intent['intent_id']}"
    assert (await peer.post(f"{url}/confirm", json={})).json()["status"] == "succeeded"
    assert (await peer.post(f"{url}/cancel", json={})).status_code == 409  # captured: refund instead
    refund = await peer.post(
        "/api/v1/payments/refunds", json={"intent_id": intent["intent_id"], "amount_minor": 400}
    )
    assert refund.json()["amount_minor"] == 400
    assert (await peer.get(url)).json()["refunded_minor"] == 400
    too_much = await peer.post(
        "/api/v1/payments/refunds", json={"intent_id": intent["intent_id"], "amount_minor": 700}
    )
    assert too_much.status_code == 400


async def test_faults_can_be_switched_on_and_off(peer: httpx.AsyncClient) -> None:
    await peer.post("/admin/faults", json={"peer": "pricing", "down": True})
    assert (await peer.post("/api/v1/pricing/estimate", json=STAY)).status_code == 503
    await peer.post("/admin/faults", json={"peer": "pricing", "down": False})
    estimate = (await peer.post("/api/v1/pricing/estimate", json=STAY)).json()["estimate"]
    assert estimate == {"amount_minor": 5000, "currency": "EUR"}
    await peer.post("/admin/fail-next", json={"path": "/api/v1/pricing", "mode": "error"})
    assert (await peer.post("/api/v1/pricing/estimate", json=STAY)).status_code == 503
    assert (await peer.post("/api/v1/pricing/estimate", json=STAY)).status_code == 200


async def test_reset_ends_every_injected_fault_and_keeps_capacities(peer: httpx.AsyncClient, ids) -> None:
    """README's admin block ends with a reset: a decline armed before it must not refuse the next
    payment, while a venue's capacity (no fault) stays."""
    venue = ids("venue")
    await peer.post("/admin/capacity", json={"venue_id": venue, "capacity": 3})
    await peer.post("/admin/decline-next", json={"count": 1})
    await peer.post("/admin/faults", json={"peer": "pricing", "down": True})
    await peer.post("/admin/fail-next", json={"path": "/api/v1/pricing", "mode": "error"})
    await peer.post("/admin/reset", json={})
    assert (await peer.post("/api/v1/pricing/estimate", json=STAY)).status_code == 200
    intent = (
        await peer.post(
            "/api/v1/payments/intents", json={"booking_id": "b", "amount_minor": 1000, "currency": "EUR"}
        )
    ).json()
    confirmed = await peer.post(f"/api/v1/payments/intents/{intent['intent_id']}/confirm", json={})
    assert confirmed.json()["status"] == "succeeded"
    ok = await peer.post("/api/v1/inventory/reserve", json={**STAY, "venue_id": venue, "booking_id": "a"})
    assert ok.status_code == 200
    full = await peer.post("/api/v1/inventory/reserve", json={**STAY, "venue_id": venue, "booking_id": "b"})
    assert (full.status_code, full.json()["error"]["code"]) == (409, "sold_out")  # still 3 seats


async def test_a_fault_for_a_peer_it_does_not_know_or_of_the_wrong_kind_is_refused(
    peer: httpx.AsyncClient,
) -> None:
    """`{"peer": "payment"}` (the peer is `payments`) was refused only as a KeyError's text, and
    `"down": "yes"` was taken as true: a fault is refused naming the peers, or the kind it needs."""
    unknown = await peer.post("/admin/faults", json={"peer": "payment", "down": True})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "invalid_peer")
    assert "inventory, pricing, payments" in unknown.json()["error"]["message"]
    for body in ({"peer": "pricing", "down": "yes"}, {"peer": "pricing", "latency_ms": True}):
        wrong = await peer.post("/admin/faults", json=body)
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "invalid_fault"), body
    assert (await peer.post("/api/v1/pricing/estimate", json=STAY)).status_code == 200  # nothing injected
