"""Reconciliation finds each kind of drift between the bookings and the peers' own view, and --fix
settles the fixable ones through the sagas (issue 13). Drift is made the way it happens: a peer
that lost or changed something behind this service's back (the sandbox's state, edited)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from booking_service.service_layer.reconcile.run import Report, reconcile
from tests.e2e.groups_support import group_request
from tests.e2e.peers_support import World, assert_converged, hotel_booking, run_command, world

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus


@pytest.fixture
async def w(private_database: str, settings, sandbox) -> AsyncIterator[World]:
    """A database of the test's own: reconciliation reads every booking changed in the window."""
    async with world(private_database, settings, sandbox) as running:
        yield running


async def run(w: World, *, fix: bool = False) -> Report:
    return await reconcile(w.app.use_cases.ctx, timedelta(hours=1), fix=fix)


def kinds(report: Report, booking_id: str) -> set[str]:
    return {d.kind for d in report.drifts if d.booking_id == booking_id}


async def prepaid(w: World, new_booking: Make, *, confirmed: bool = True) -> pb.Booking:
    """A prepaid hotel stay in a room of its own (confirmed: paid)."""
    booking = await w.stub.CreateBooking(hotel_booking(new_booking, unit_id=f"room-{uuid.uuid4().hex[:8]}"))
    if confirmed:
        booking = await w.stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=booking.booking_id, expected_version=1, status=S.BOOKING_STATUS_CONFIRMED
            )
        )
    return booking


async def cancel(w: World, booking: pb.Booking) -> pb.Booking:
    return await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=booking.version)
    )


async def get(w: World, booking_id: str) -> pb.Booking:
    return await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))


async def test_nothing_drifts_after_the_sagas_ran(w: World, new_booking: Make) -> None:
    await cancel(w, await prepaid(w, new_booking))
    await prepaid(w, new_booking)
    await prepaid(w, new_booking, confirmed=False)
    report = await run(w)
    assert report.drifts == []
    assert report.checked == 3


async def test_holds_that_drifted(w: World, new_booking: Make) -> None:
    state = w.sandbox.state.inventory
    closed = await cancel(w, await prepaid(w, new_booking))
    state.holds[closed.inventory_reservation_id].status = "held"  # released, then held again there
    lost = await prepaid(w, new_booking)
    state.holds[lost.inventory_reservation_id].status = "released"
    moved = await prepaid(w, new_booking)
    state.holds[moved.inventory_reservation_id].party_size = 5

    report = await run(w)
    assert kinds(report, closed.booking_id) == {"hold_without_active_booking"}
    assert kinds(report, lost.booking_id) == {"active_booking_without_hold"}
    assert kinds(report, moved.booking_id) == {"hold_differs"}

    fixed = await run(w, fix=True)
    assert fixed.fixes == {closed.booking_id: "fixed"}  # the others need an operator
    assert state.holds[closed.inventory_reservation_id].status == "released"
    assert kinds(await run(w), closed.booking_id) == set()


async def test_money_that_drifted(w: World, new_booking: Make) -> None:
    intents, refunds = w.sandbox.state.payments.intents, w.sandbox.state.payments.refunds
    paid_elsewhere = await prepaid(w, new_booking, confirmed=False)
    intents[paid_elsewhere.payment_intent_id].status = "succeeded"  # captured behind our back
    voided_elsewhere = await prepaid(w, new_booking, confirmed=False)
    intents[voided_elsewhere.payment_intent_id].status = "canceled"
    never_taken = await prepaid(w, new_booking)
    intents[never_taken.payment_intent_id].status = "requires_confirmation"
    reopened = await cancel(w, await prepaid(w, new_booking, confirmed=False))
    intents[reopened.payment_intent_id].status = "requires_confirmation"
    refunded = await cancel(w, await prepaid(w, new_booking))
    [refund_id] = [r for r, v in refunds.items() if v["intent_id"] == refunded.payment_intent_id]
    del refunds[refund_id]
    extra = await cancel(w, await prepaid(w, new_booking))
    refunds["re_elsewhere"] = {
        **next(v for v in refunds.values() if v["intent_id"] == extra.payment_intent_id),
        "refund_id": "re_elsewhere",
    }

    report = await run(w)
    assert kinds(report, paid_elsewhere.booking_id) == {"capture_not_recorded"}
    assert kinds(report, voided_elsewhere.booking_id) == {"void_not_recorded"}
    assert kinds(report, never_taken.booking_id) == {"capture_recorded_but_absent"}
    assert kinds(report, reopened.booking_id) == {"open_intent_on_closed_booking"}
    assert kinds(report, refunded.booking_id) == {"refund_recorded_but_absent"}
    assert kinds(report, extra.booking_id) == {"refund_not_recorded"}

    fixed = await run(w, fix=True)
    for booking in (paid_elsewhere, voided_elsewhere, reopened):
        assert fixed.fixes[booking.booking_id] == "fixed"
    confirmed = await get(w, paid_elsewhere.booking_id)
    assert (confirmed.status, confirmed.payment.status) == (
        S.BOOKING_STATUS_CONFIRMED,
        pb.PAYMENT_STATUS_CAPTURED,
    )
    assert (await get(w, voided_elsewhere.booking_id)).payment.status == pb.PAYMENT_STATUS_VOIDED
    assert intents[reopened.payment_intent_id].status == "canceled"
    after = await run(w)
    for booking in (paid_elsewhere, voided_elsewhere, reopened):
        assert kinds(after, booking.booking_id) == set()


async def test_a_refund_left_pending_is_asked_for_again(w: World, new_booking: Make) -> None:
    booking = await prepaid(w, new_booking)
    await w.faults(peer="payments", down=True)
    await cancel(w, booking)
    for _ in range(w.app.use_cases.ctx.saga_max_attempts):
        await w.recover()  # the payment service stays down: the release is given up on
    await w.faults(peer="payments", down=False)
    await asyncio.sleep(0.6)  # the payments circuit, opened by the outage, lets a trial through
    assert kinds(await run(w), booking.booking_id) == {"refund_pending"}
    assert (await run(w, fix=True)).fixes == {booking.booking_id: "fixed"}
    assert (await get(w, booking.booking_id)).refunded.amount_minor == 24000
    await assert_converged(w, booking.venue.venue_id)


async def test_what_a_booking_never_stored_left_behind(w: World, new_booking: Make) -> None:
    request = hotel_booking(new_booking)
    await w.fail_next("/api/v1/payments/intents", "error_after")  # the intent is made, its answer lost
    await w.fail_next("/api/v1/payments/intents", "error_after")  # and the retry's
    with pytest.raises(Exception):  # noqa: B017, PT011 - the create fails; what matters is after
        await w.stub.CreateBooking(request)
    [hold] = [h for h in w.sandbox.state.inventory.holds.values() if h.venue_id == request.venue.venue_id]
    [intent] = [i for i in w.sandbox.state.payments.intents.values() if i.booking_id == hold.booking_id]
    assert hold.booking_id not in await stored_ids(w)
    assert (intent.status, hold.status) == ("canceled", "released")  # compensated
    assert kinds(await run(w), intent.booking_id) == set()

    hold.status, intent.status = "held", "requires_confirmation"
    assert kinds(await run(w), intent.booking_id) == {
        "hold_without_active_booking",
        "open_intent_on_closed_booking",
    }
    assert (await run(w, fix=True)).fixes == {intent.booking_id: "fixed"}
    assert (intent.status, hold.status) == ("canceled", "released")
    intent.status = "succeeded"
    assert kinds(await run(w), intent.booking_id) == {"money_on_unknown_booking"}
    intent.status = "canceled"


async def stored_ids(w: World) -> set[str]:
    async with w.app.engine.connect() as connection:
        return {str(r[0]) for r in await connection.execute(text("SELECT booking_id FROM bookings"))}


@pytest.mark.slow
async def test_the_command_reports_and_fixes(
    w: World, new_booking: Make, private_database: str, tmp_path: Path
) -> None:
    closed = await cancel(w, await prepaid(w, new_booking))
    w.sandbox.state.inventory.holds[closed.inventory_reservation_id].status = "held"

    async def command(*args: str) -> tuple[int, str]:
        return await run_command(w, private_database, tmp_path, "reconcile", *args)

    code, out = await command("--since", "1h", "--json")
    assert code == 1, out
    report = json.loads(out.splitlines()[-1])
    assert [(d["kind"], d["booking_id"], d["fixable"]) for d in report["drifts"]] == [
        ("hold_without_active_booking", closed.booking_id, True)
    ]
    code, out = await command("--fix")
    assert code == 0, out
    assert "hold_without_active_booking" in out
    assert "fixed" in out
    code, out = await command()
    assert code == 0, out
    assert "0 drifts" in out
    code, out = await command("--since", "yesterday")
    assert code == 2


async def test_a_booking_that_changes_while_the_peers_are_read_is_in_flight(
    w: World, new_booking: Make
) -> None:
    """Reconcile read a PENDING booking, then the peers; in between, it expired (or was cancelled):
    its hold released and its intent voided. That is the change in progress, not a drift (CI's
    invariant run, seed 2109570888, reported active_booking_without_hold and void_not_recorded so)."""
    from booking_service.service_layer.reconcile.run import _check

    booking = await prepaid(w, new_booking, confirmed=False)
    read_before = await w.app.use_cases.ctx.reads.get(booking.booking_id)
    assert read_before is not None
    await cancel(w, booking)  # the release runs right after the commit: hold released, intent voided
    report = Report(timedelta(hours=1))
    await _check(w.app.use_cases.ctx, report, read_before, fix=False)
    assert (report.drifts, report.in_flight) == ([], 1)


async def test_a_hold_left_by_a_group_never_stored_is_found_and_released(w: World) -> None:
    """A group create that failed (its saga compensated) but whose item got a hold the compensation
    never saw (a reserve that landed late): the hold is found under the item's id, and --fix
    releases it."""
    venue = f"recon-group-{uuid.uuid4().hex[:8]}"
    await w.fail_next("/api/v1/pricing/calculate", "error", 2)
    with pytest.raises(grpc.aio.AioRpcError):
        await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    async with w.app.engine.connect() as connection:
        data = await connection.scalar(
            text("SELECT data FROM booking_sagas WHERE kind = 'group_create' AND status = 'compensated'")
        )
    item = data["items"][1]
    late = {**item["stay"], "booking_id": item["booking_id"], "start_time": item["stay"]["start"]}
    late |= {"end_time": item["stay"]["end"], "venue_type": "VENUE_TYPE_HOTEL"}
    (await w.admin.post("/api/v1/inventory/reserve", json=late)).raise_for_status()
    report = await run(w)
    assert kinds(report, item["booking_id"]) == {"hold_without_active_booking"}
    await run(w, fix=True)
    assert (await run(w)).drifts == []
    assert [h.status for h in w.sandbox.state.inventory.holds.values() if h.venue_id == venue] == ["released"]
