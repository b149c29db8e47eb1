"""Booking group requests to commands, and groups to messages (the group RPCs' share of mapping.py)."""

from __future__ import annotations

from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb

from booking_service.adapters.booking_proto import (
    booking_message,
    guest_message,
    money_message,
    stamp,
    venue_message,
)
from booking_service.domain.group import BookingGroup, CancelBookingGroup, CreateBookingGroup, GroupItem
from booking_service.domain.validation import Violations, canonical_id
from booking_service.domain.values import Actor
from booking_service.entrypoints.grpc.mapping import guest_of, read_time, venue_details_of


def create_group_command(
    request: pb.CreateBookingGroupRequest, actor: Actor, caller: str = ""
) -> CreateBookingGroup:
    v = Violations()
    items = tuple(
        GroupItem(
            unit_id=item.unit_id,
            start_time=read_time(v, item, "start_time", f"items[{index}].start_time"),
            end_time=read_time(v, item, "end_time", f"items[{index}].end_time"),
            party_size=item.party_size,
            special_requests=item.special_requests,
        )
        for index, item in enumerate(request.items)
    )
    return CreateBookingGroup(
        actor=actor,
        caller=caller,
        guest=guest_of(request.guest),
        venue=venue_details_of(request.venue),
        items=items,
        idempotency_key=request.idempotency_key,
        unreadable=tuple(v.items),  # last: the items above have added theirs
    )


def cancel_group_command(
    request: gpb.CancelBookingGroupRequest, actor: Actor, caller: str = ""
) -> CancelBookingGroup:
    return CancelBookingGroup(
        actor=actor,
        caller=caller,
        group_id=canonical_id(request.group_id),
        expected_version=request.expected_version,
        reason=request.reason,
        idempotency_key=request.idempotency_key,
    )


def group_message(group: BookingGroup) -> pb.BookingGroup:
    message = pb.BookingGroup(
        group_id=group.group_id,
        group_reference=group.reference,
        bookings=[booking_message(booking) for booking in group.bookings],
        version=group.version,
        guest=guest_message(group.guest),
        venue=venue_message(group.venue),
        payment_intent_id=group.payment_intent_id,
        cancellation_reason=group.cancellation_reason,
        idempotency_key=group.idempotency_key,
        create_time=stamp(group.create_time),
        update_time=stamp(group.update_time),
    )
    if group.total is not None:
        message.total_price.CopyFrom(money_message(group.total))
    if group.cancel_time is not None:
        message.cancel_time.CopyFrom(stamp(group.cancel_time))
    return message
