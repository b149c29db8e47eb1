"""Booking ↔ table row, and booking ↔ JSON snapshot (the answer kept under an idempotency key)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from booking_service.domain.limits import LIMITS, BookingLimits
from booking_service.domain.model import LIFECYCLE_TIMES, Attention, Booking, HistoryEntry
from booking_service.domain.payment import PaymentRecord, PaymentStatus, Refund, RefundStatus
from booking_service.domain.pricing import CancellationPolicy, PricingSnapshot
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, ChangeSource, Guest, Money, TimeSlot, Venue, VenueType

_TIMES = (
    *LIFECYCLE_TIMES,
    "cancellation_free_until",
    "start_time",
    "end_time",
)
#: Columns held as jsonb: booking_row gives them as JSON-ready data, statements take them as text.
_JSON_COLUMNS = frozenset({"refunds", "attention", "rules"})


def arguments(row: Mapping[str, Any], names: Sequence[str]) -> list[Any]:
    """A booking row's values in `names` order, as the driver takes them (jsonb as JSON text)."""
    return [json.dumps(row[name]) if name in _JSON_COLUMNS else row[name] for name in names]


def booking_row(booking: Booking) -> dict[str, Any]:
    pricing, payment, rules = booking.pricing, booking.payment, booking.rules
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
        "saga_id": booking.saga_id,
        "payment_status": payment.status.value if payment else None,
        "captured_amount_minor": payment.captured.amount_minor if payment and payment.captured else None,
        "refunds": [_refund_json(refund) for refund in payment.refunds] if payment else [],
        "attention": _attention_json(booking.attention),
        "buffer_before_seconds": int(rules.buffer_before.total_seconds()) if rules else 0,
        "buffer_after_seconds": int(rules.buffer_after.total_seconds()) if rules else 0,
        "policy_version": booking.policy_version,
        "rules": limits_json(rules) if rules else None,
        "group_id": booking.group_id,
        "guest_erased_version": booking.guest_erased_version,
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
    amount, currency = row["price_amount_minor"], row["price_currency"]
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
        payment=_payment_of(row),
        saga_id=_text_or_none(row["saga_id"]),
        stored_saga_id=_text_or_none(row["saga_id"]),
        attention=_attention_of(row["attention"]),
        group_id=_text_or_none(row.get("group_id")),  # a snapshot from before groups has none
        payment_intent_id=row["payment_intent_id"],
        inventory_reservation_id=row["inventory_reservation_id"],
        rules=limits_of(_decoded(row.get("rules"))),
        policy_version=row.get("policy_version") or 0,
        cancellation_reason=row["cancellation_reason"],
        guest_erased_version=row.get("guest_erased_version"),  # a snapshot from before 0012 has none
        confirm_time=row["confirm_time"],
        check_in_time=row["check_in_time"],
        complete_time=row["complete_time"],
        cancel_time=row["cancel_time"],
        no_show_time=row["no_show_time"],
        expire_time=row["expire_time"],
        history=history or [],
        stored_version=row["version"],
    )


def limits_json(limits: BookingLimits) -> dict[str, Any]:
    """Limits as JSON: durations in whole seconds, party sizes in people, and their sources."""
    data: dict[str, Any] = {
        name: int(value.total_seconds()) if isinstance(value, timedelta) else value
        for name in LIMITS
        for value in (getattr(limits, name),)
    }
    data["sources"] = dict(limits.sources)
    return data


def limits_of(data: Mapping[str, Any] | None) -> BookingLimits | None:
    """The limits limits_json wrote; None for None (a booking made before they were stored)."""
    if not data:
        return None
    values: dict[str, Any] = {
        name: data[name] if name.endswith("party_size") else timedelta(seconds=data[name])
        for name in LIMITS
        if name in data
    }
    return BookingLimits(**values, sources=dict(data.get("sources", {})))


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _payment_of(row: Mapping[Any, Any]) -> PaymentRecord | None:
    status, currency = row["payment_status"], row["price_currency"]
    if not status or not row["payment_intent_id"]:
        return None
    captured = row["captured_amount_minor"]
    return PaymentRecord(
        intent_id=row["payment_intent_id"],
        amount=Money(row["price_amount_minor"], currency),
        status=PaymentStatus(status),
        captured=Money(captured, currency) if captured is not None else None,
        refunds=tuple(_refund_of(data, currency) for data in _decoded(row["refunds"]) or ()),
    )


def _refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "key": refund.key,
        "amount_minor": refund.amount.amount_minor,
        "status": refund.status.value,
        "reason": refund.reason,
        "request_time": refund.request_time.isoformat(),
        "refund_id": refund.refund_id,
        "settle_time": refund.settle_time.isoformat() if refund.settle_time else None,
        "failure": refund.failure,
    }


def _refund_of(data: Mapping[str, Any], currency: str) -> Refund:
    settled = data.get("settle_time")
    return Refund(
        key=data["key"],
        amount=Money(int(data["amount_minor"]), currency),
        status=RefundStatus(data["status"]),
        reason=data.get("reason", ""),
        request_time=datetime.fromisoformat(data["request_time"]),
        refund_id=data.get("refund_id", ""),
        settle_time=datetime.fromisoformat(settled) if settled else None,
        failure=data.get("failure", ""),
    )


def _attention_json(attention: tuple[Attention, ...]) -> list[dict[str, Any]] | None:
    if not attention:
        return None
    return [
        {"saga_id": a.saga_id, "kind": a.kind, "reason": a.reason, "since": a.since.isoformat()}
        for a in attention
    ]


def _attention_of(value: Any) -> tuple[Attention, ...]:
    data = _decoded(value) or []
    if isinstance(data, dict):  # one saga's, as first written
        data = [data]
    return tuple(
        Attention(a["saga_id"], a["kind"], a["reason"], datetime.fromisoformat(a["since"])) for a in data
    )


def _decoded(value: Any) -> Any:
    """A jsonb value as the driver gave it (decoded), or as JSON text (a column read without the codec)."""
    return json.loads(value) if isinstance(value, str) else value


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
