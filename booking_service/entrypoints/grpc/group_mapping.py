"""Booking group requests to commands, and groups to messages (the group RPCs' share of mapping.py)."""

from __future__ import annotations

from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb

from booking_service.adapters.booking_proto import (
    VENUE_FROM_PB,
    VENUE_TO_PB,
    booking_message,
    money_message,
    stamp,
)
from booking_service.domain.commands import VenueDetails
from booking_service.domain.group import BookingGroup, CancelBookingGroup, CreateBookingGroup, GroupItem
from booking_service.domain.validation import Violations, canonical_id
from booking_service.domain.values import Actor, Guest
from booking_service.entrypoints.grpc.mapping import read_time


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
        guest=Guest(request.guest.guest_id, request.guest.name, request.guest.email, request.guest.phone),
        venue=VenueDetails(
            request.venue.venue_id,
            VENUE_FROM_PB.get(request.venue.venue_type),
            request.venue.name,
            request.venue.time_zone,
        ),
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
        guest=pb.Guest(
            guest_id=group.guest.guest_id,
            name=group.guest.name,
            email=group.guest.email,
            phone=group.guest.phone,
        ),
        venue=pb.Venue(
            venue_id=group.venue.venue_id,
            venue_type=VENUE_TO_PB[group.venue.venue_type],
            name=group.venue.name,
            time_zone=group.venue.time_zone,
        ),
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
