"""Domain bookings as protobuf messages: the one mapping the gRPC answers and the events share.

Domain and proto enums share member names (PENDING <-> BOOKING_STATUS_PENDING), so the tables are
built from the domain enums.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from booking.v1 import booking_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from booking_service.domain.model import LIFECYCLE_TIMES, Attention, Booking, HistoryEntry
from booking_service.domain.payment import PaymentRecord, Refund
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import ChangeSource, Guest, Money, Venue, VenueType

STATUS_TO_PB = {
    s: cast(pb.BookingStatus, pb.BookingStatus.Value(f"BOOKING_STATUS_{s.value}")) for s in BookingStatus
}
STATUS_FROM_PB = {int(number): s for s, number in STATUS_TO_PB.items()}
VENUE_TO_PB = {t: cast(pb.VenueType, pb.VenueType.Value(f"VENUE_TYPE_{t.value}")) for t in VenueType}
VENUE_FROM_PB = {int(number): t for t, number in VENUE_TO_PB.items()}
SOURCE_TO_PB = {
    s: cast(pb.ChangeSource, pb.ChangeSource.Value(f"CHANGE_SOURCE_{s.value}")) for s in ChangeSource
}


def guest_message(guest: Guest) -> pb.Guest:
    """The guest as the API shows it (on a booking, a group)."""
    return pb.Guest(guest_id=guest.guest_id, name=guest.name, email=guest.email, phone=guest.phone)


def venue_message(venue: Venue) -> pb.Venue:
    """The venue as the API shows it (on a booking, a group), with the zone in use."""
    return pb.Venue(
        venue_id=venue.venue_id,
        venue_type=VENUE_TO_PB[venue.venue_type],
        name=venue.name,
        time_zone=venue.time_zone,
    )


def booking_message(booking: Booking) -> pb.Booking:
    message = pb.Booking(
        booking_id=booking.booking_id,
        booking_reference=booking.reference,
        guest=guest_message(booking.guest),
        venue=venue_message(booking.venue),
        unit_id=booking.unit_id or "",
        start_time=stamp(booking.slot.start),
        end_time=stamp(booking.slot.end),
        party_size=booking.party_size,
        special_requests=booking.special_requests,
        status=STATUS_TO_PB[booking.status],
        payment_intent_id=booking.payment_intent_id,
        inventory_reservation_id=booking.inventory_reservation_id,
        version=booking.version,
        cancellation_reason=booking.cancellation_reason,
        idempotency_key=booking.idempotency_key,
        history=[_history_message(entry) for entry in booking.history],
        group_id=booking.group_id or "",
    )
    if booking.pricing is not None:
        pricing = booking.pricing
        message.price.CopyFrom(money_message(pricing.total))
        message.pricing.quote_id = pricing.quote_id
        message.pricing.total.CopyFrom(money_message(pricing.total))
        message.pricing.requires_prepayment = pricing.requires_prepayment
        message.pricing.cancellation.fee_percent = pricing.cancellation.fee_percent
        if pricing.cancellation.free_until is not None:
            _set(message.pricing.cancellation.free_until, pricing.cancellation.free_until)
    if booking.refunded is not None:
        message.refunded.CopyFrom(money_message(booking.refunded))
    if booking.payment is not None:
        message.payment.CopyFrom(_payment_message(booking.payment))
    message.attention.extend(_attention_message(attention) for attention in booking.attention)
    for name in LIFECYCLE_TIMES:
        value: datetime | None = getattr(booking, name)
        if value is not None:
            _set(getattr(message, name), value)
    return message


def _payment_message(payment: PaymentRecord) -> pb.PaymentRecord:
    message = pb.PaymentRecord(
        intent_id=payment.intent_id,
        status=cast(pb.PaymentStatus, pb.PaymentStatus.Value(f"PAYMENT_STATUS_{payment.status.value}")),
        amount=money_message(payment.amount),
        refunds=[_refund_message(refund) for refund in payment.refunds],
        refunded=money_message(payment.refunded),
        refund_pending=money_message(payment.refund_pending),
    )
    if payment.captured is not None:
        message.captured.CopyFrom(money_message(payment.captured))
    return message


def _refund_message(refund: Refund) -> pb.Refund:
    message = pb.Refund(
        key=refund.key,
        refund_id=refund.refund_id,
        amount=money_message(refund.amount),
        status=cast(pb.RefundStatus, pb.RefundStatus.Value(f"REFUND_STATUS_{refund.status.value}")),
        reason=refund.reason,
        request_time=stamp(refund.request_time),
        failure=refund.failure,
    )
    if refund.settle_time is not None:
        _set(message.settle_time, refund.settle_time)
    return message


def _attention_message(attention: Attention) -> pb.Attention:
    return pb.Attention(
        saga_id=attention.saga_id,
        saga_kind=attention.kind,
        reason=attention.reason,
        since=stamp(attention.since),
    )


def _history_message(entry: HistoryEntry) -> pb.BookingHistoryEntry:
    return pb.BookingHistoryEntry(
        version=entry.version,
        from_status=STATUS_TO_PB[entry.from_status] if entry.from_status else pb.BOOKING_STATUS_UNSPECIFIED,
        to_status=STATUS_TO_PB[entry.to_status],
        reason=entry.reason,
        actor=entry.actor.actor_id,
        source=SOURCE_TO_PB[entry.actor.source],
        change_time=stamp(entry.changed_at),
        changed_fields=list(entry.changed_fields),
    )


def stamp(value: datetime) -> Timestamp:
    seconds, nanos = since_epoch(value)
    return Timestamp(seconds=seconds, nanos=nanos)


def _set(target: Timestamp, value: datetime) -> None:
    target.seconds, target.nanos = since_epoch(value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def since_epoch(value: datetime) -> tuple[int, int]:
    """Timestamp.FromDatetime's seconds and nanos (a naive time counts as UTC), by date arithmetic
    instead of its time tuple: a booking answer sets up to a dozen of them."""
    delta = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)) - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds * 1_000


def money_message(money: Money) -> pb.Money:
    return pb.Money(amount_minor=money.amount_minor, currency=money.currency)
