"""Booking ↔ table row, and booking ↔ JSON snapshot (the answer kept under an idempotency key)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from booking_service.domain.model import LIFECYCLE_TIMES, Booking, HistoryEntry
from booking_service.domain.pricing import CancellationPolicy, PricingSnapshot
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, ChangeSource, Guest, Money, TimeSlot, Venue, VenueType

_TIMES = (
    *LIFECYCLE_TIMES,
    "cancellation_free_until",
    "start_time",
    "end_time",
)


def booking_row(booking: Booking) -> dict[str, Any]:
    pricing = booking.pricing
    return {
        "booking_id": booking.booking_id,
        "booking_reference": booking.reference,
        "guest_id": booking.guest.guest_id,
        "guest_name": booking.guest.name,
        "guest_email": booking.guest.email,
        "guest_phone": booking.guest.phone,
        "venue_id": booking.venue.venue_id,
        "venue_type": booking.venue.venue_type.value,
        "venue_name": booking.venue.name,
        "venue_time_zone": booking.venue.time_zone,
        "unit_id": booking.unit_id,
        "start_time": booking.slot.start,
        "end_time": booking.slot.end,
        "local_start_date": booking.venue.local_date(booking.slot.start),
        "party_size": booking.party_size,
        "special_requests": booking.special_requests,
        "status": booking.status.value,
        "price_amount_minor": pricing.total.amount_minor if pricing else None,
        "price_currency": pricing.total.currency if pricing else None,
        "pricing_quote_id": pricing.quote_id if pricing else "",
        "requires_prepayment": pricing.requires_prepayment if pricing else False,
        "cancellation_free_until": pricing.cancellation.free_until if pricing else None,
        "cancellation_fee_percent": pricing.cancellation.fee_percent if pricing else 0,
        "refunded_amount_minor": booking.refunded.amount_minor if booking.refunded else None,
        "payment_intent_id": booking.payment_intent_id,
        "inventory_reservation_id": booking.inventory_reservation_id,
        "version": booking.version,
        "cancellation_reason": booking.cancellation_reason,
        "idempotency_key": booking.idempotency_key,
        "create_time": booking.create_time,
        "update_time": booking.update_time,
        "confirm_time": booking.confirm_time,
        "check_in_time": booking.check_in_time,
        "complete_time": booking.complete_time,
        "cancel_time": booking.cancel_time,
        "no_show_time": booking.no_show_time,
        "expire_time": booking.expire_time,
    }


def booking_of(row: Mapping[Any, Any], history: list[HistoryEntry] | None = None) -> Booking:
    amount, currency, refunded = (
        row["price_amount_minor"],
        row["price_currency"],
        row["refunded_amount_minor"],
    )
    pricing = (
        PricingSnapshot(
            row["pricing_quote_id"],
            Money(amount, currency),
            row["requires_prepayment"],
            CancellationPolicy(row["cancellation_free_until"], row["cancellation_fee_percent"]),
        )
        if amount is not None and currency
        else None
    )
    return Booking(
        booking_id=str(row["booking_id"]),
        reference=row["booking_reference"],
        guest=Guest(row["guest_id"], row["guest_name"], row["guest_email"], row["guest_phone"]),
        venue=Venue(row["venue_id"], VenueType(row["venue_type"]), row["venue_name"], row["venue_time_zone"]),
        unit_id=row["unit_id"],
        slot=TimeSlot(row["start_time"], row["end_time"]),
        party_size=row["party_size"],
        special_requests=row["special_requests"],
        status=BookingStatus(row["status"]),
        version=row["version"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        idempotency_key=row["idempotency_key"],
        pricing=pricing,
        refunded=Money(refunded, currency) if refunded is not None and currency else None,
        payment_intent_id=row["payment_intent_id"],
        inventory_reservation_id=row["inventory_reservation_id"],
        cancellation_reason=row["cancellation_reason"],
        confirm_time=row["confirm_time"],
        check_in_time=row["check_in_time"],
        complete_time=row["complete_time"],
        cancel_time=row["cancel_time"],
        no_show_time=row["no_show_time"],
        expire_time=row["expire_time"],
        history=history or [],
        stored_version=row["version"],
    )


def history_row(booking_id: str, entry: HistoryEntry) -> dict[str, Any]:
    return {
        "booking_id": booking_id,
        "version": entry.version,
        "from_status": entry.from_status.value if entry.from_status else None,
        "to_status": entry.to_status.value,
        "reason": entry.reason,
        "actor": entry.actor.actor_id,
        "source": entry.actor.source.value,
        "changed_fields": list(entry.changed_fields),
        "change_time": entry.changed_at,
    }


def history_of(row: Mapping[Any, Any]) -> HistoryEntry:
    return HistoryEntry(
        version=row["version"],
        from_status=BookingStatus(row["from_status"]) if row["from_status"] else None,
        to_status=BookingStatus(row["to_status"]),
        reason=row["reason"],
        actor=Actor(row["actor"], ChangeSource(row["source"])),
        changed_at=row["change_time"],
        changed_fields=tuple(row["changed_fields"]),
    )


def snapshot(booking: Booking) -> dict[str, Any]:
    """The booking as JSON-ready data (times and dates as ISO 8601)."""
    return {
        k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in booking_row(booking).items()
    }


def from_snapshot(data: Mapping[str, Any]) -> Booking:
    row = dict(data)
    for name in _TIMES:
        if row[name] is not None:
            row[name] = datetime.fromisoformat(row[name])
    return booking_of(row)
