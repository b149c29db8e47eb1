"""The BookingService servicer: maps each RPC's request to a use case and its answer back.

Errors are not handled here: the interceptor turns domain errors into rich statuses for every
method alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from booking.v1 import guest_erasure_pb2 as epb
from booking.v1 import slots_pb2 as spb
from booking.v1 import venue_policy_pb2 as vp

from booking_service.adapters.booking_proto import booking_message, stamp
from booking_service.domain.values import Actor, ChangeSource
from booking_service.domain.watch import Position, WatchScope
from booking_service.entrypoints.auth.caller import caller_var
from booking_service.entrypoints.grpc import group_mapping, mapping, slots_mapping, venue_policy_mapping
from booking_service.service_layer.erasure import EraseGuestData
from booking_service.service_layer.use_cases import UseCases

Context = grpc.aio.ServicerContext[Any, Any]


def actor_of(context: Context) -> Actor:
    """Who calls, as the interceptor's guard established it (token subject, certificate name, or
    in an open service the `x-actor` header)."""
    return Actor(caller_var.get().subject, ChangeSource.API)


def key_owner() -> str:
    """Whose idempotency keys a call's key is among: the authenticated caller (token subject or
    certificate name), or "" in an open service, where `x-actor` is a claim anyone can make and
    every caller is one."""
    caller = caller_var.get()
    return caller.subject if caller.authenticated else ""


class BookingServicer(booking_pb2_grpc.BookingServiceServicer):
    def __init__(self, use_cases: UseCases) -> None:
        self._use_cases = use_cases

    async def CreateBooking(self, request: pb.CreateBookingRequest, context: Context) -> pb.Booking:
        booking = await self._use_cases.create_booking(
            mapping.create_command(request, actor_of(context), key_owner())
        )
        return booking_message(booking)

    async def GetBooking(self, request: pb.GetBookingRequest, context: Context) -> pb.Booking:
        return booking_message(await self._use_cases.get_booking(request.booking_id))

    async def GetBookingByReference(
        self, request: pb.GetBookingByReferenceRequest, context: Context
    ) -> pb.Booking:
        return booking_message(await self._use_cases.get_booking_by_reference(request.booking_reference))

    async def UpdateBooking(self, request: pb.UpdateBookingRequest, context: Context) -> pb.Booking:
        booking = await self._use_cases.update_booking(
            mapping.update_command(request, actor_of(context), key_owner())
        )
        return booking_message(booking)

    async def CancelBooking(self, request: pb.CancelBookingRequest, context: Context) -> pb.Booking:
        booking = await self._use_cases.cancel_booking(
            mapping.cancel_command(request, actor_of(context), key_owner())
        )
        return booking_message(booking)

    async def UpdateBookingStatus(
        self, request: pb.UpdateBookingStatusRequest, context: Context
    ) -> pb.Booking:
        command = mapping.status_command(request, actor_of(context), key_owner())
        return booking_message(await self._use_cases.change_booking_status(command))

    async def ListGuestBookings(
        self, request: pb.ListGuestBookingsRequest, context: Context
    ) -> pb.ListGuestBookingsResponse:
        page = await self._use_cases.list_bookings(mapping.list_query("guest", request.guest_id, request))
        return pb.ListGuestBookingsResponse(
            bookings=mapping.booking_messages(page), next_page_token=page.next_page_token
        )

    async def ListVenueBookings(
        self, request: pb.ListVenueBookingsRequest, context: Context
    ) -> pb.ListVenueBookingsResponse:
        page = await self._use_cases.list_bookings(mapping.list_query("venue", request.venue_id, request))
        return pb.ListVenueBookingsResponse(
            bookings=mapping.booking_messages(page), next_page_token=page.next_page_token
        )

    async def CheckAvailability(
        self, request: pb.CheckAvailabilityRequest, context: Context
    ) -> pb.CheckAvailabilityResponse:
        result = await self._use_cases.check_availability(mapping.availability_query(request))
        return mapping.availability_message(result)

    async def GetVenuePolicy(self, request: vp.GetVenuePolicyRequest, context: Context) -> vp.VenuePolicy:
        policy = await self._use_cases.get_venue_policy(request.venue_id)
        return venue_policy_mapping.policy_message(policy, self._use_cases.policy.limits)

    async def UpdateVenuePolicy(
        self, request: vp.UpdateVenuePolicyRequest, context: Context
    ) -> vp.VenuePolicy:
        command = venue_policy_mapping.update_command(request, actor_of(context), key_owner())
        policy = await self._use_cases.update_venue_policy(command)
        return venue_policy_mapping.policy_message(policy, self._use_cases.policy.limits)

    async def SearchAvailableSlots(
        self, request: spb.SearchAvailableSlotsRequest, context: Context
    ) -> spb.SearchAvailableSlotsResponse:
        result = await self._use_cases.search_available_slots(slots_mapping.search_query(request))
        return slots_mapping.search_message(result)

    async def CreateBookingGroup(
        self, request: pb.CreateBookingGroupRequest, context: Context
    ) -> pb.BookingGroup:
        command = group_mapping.create_group_command(request, actor_of(context), key_owner())
        return group_mapping.group_message(await self._use_cases.create_booking_group(command))

    async def GetBookingGroup(self, request: gpb.GetBookingGroupRequest, context: Context) -> pb.BookingGroup:
        return group_mapping.group_message(await self._use_cases.get_booking_group(request.group_id))

    async def CancelBookingGroup(
        self, request: gpb.CancelBookingGroupRequest, context: Context
    ) -> pb.BookingGroup:
        command = group_mapping.cancel_group_command(request, actor_of(context), key_owner())
        return group_mapping.group_message(await self._use_cases.cancel_booking_group(command))

    async def EraseGuestData(
        self, request: epb.EraseGuestDataRequest, context: Context
    ) -> epb.EraseGuestDataResponse:
        command = EraseGuestData(
            actor_of(context), request.guest_id, request.idempotency_key, caller=key_owner()
        )
        erased = await self._use_cases.erase_guest_data(command)
        records = erased.records
        return epb.EraseGuestDataResponse(
            guest_id=erased.guest_id,
            erase_time=stamp(erased.erase_time),
            bookings_erased=erased.bookings,
            booking_groups_erased=records.booking_groups,
            history_entries_erased=records.history_entries,
            idempotency_records_erased=records.idempotency_records,
            outbox_events_erased=records.outbox_events,
            saga_records_erased=records.saga_records,
        )

    async def WatchBookings(
        self, request: pb.WatchBookingsRequest, context: Context
    ) -> AsyncIterator[pb.WatchBookingsResponse]:
        scope = WatchScope.of(request.venue_id, request.guest_id)
        start = Position.parse(request.start_position) if request.start_position else None
        async for item in self._use_cases.watch_bookings(scope, start):
            message = pb.WatchBookingsResponse(position=str(item.position), heartbeat=item.payload is None)
            if item.payload is not None:
                message.event.MergeFromString(item.payload)
            yield message
