"""UseCases: every use case with its dependencies bound, the one object transports talk to.

bootstrap() builds it; tests build it with their own parts (a fixed clock, say).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from booking_service.domain.commands import (
    CancelBooking,
    ChangeBookingStatus,
    CreateBooking,
    UpdateBooking,
    UpdateVenuePolicy,
)
from booking_service.domain.group import BookingGroup, CancelBookingGroup, CreateBookingGroup
from booking_service.domain.model import Booking
from booking_service.domain.venue_policy import VenuePolicy
from booking_service.domain.watch import Position, WatchScope
from booking_service.service_layer import (
    availability,
    change_booking,
    erasure,
    queries,
    sweeper,
    venue_policies,
)
from booking_service.service_layer.availability import Availability, CheckAvailability
from booking_service.service_layer.context import Context
from booking_service.service_layer.erasure import EraseGuestData, GuestErasure
from booking_service.service_layer.groups import cancel as group_cancel
from booking_service.service_layer.groups import create as group_create
from booking_service.service_layer.groups import read as group_read
from booking_service.service_layer.page_tokens import PageTokens
from booking_service.service_layer.policy import Clock, Policy
from booking_service.service_layer.queries import BookingPage, ListBookings
from booking_service.service_layer.sagas import create, recovery
from booking_service.service_layer.slot_search import SearchSlots, SlotSearch, search_available_slots
from booking_service.service_layer.unit_of_work import UnitOfWork
from booking_service.service_layer.watch import WatchHub, WatchItem


@dataclass(frozen=True, slots=True)
class UseCases:
    ctx: Context
    page_tokens: PageTokens
    #: WatchBookings' shared reader of the outbox (service_layer/watch.py).
    watches: WatchHub

    @property
    def uow(self) -> Callable[[], UnitOfWork]:
        return self.ctx.uow

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def policy(self) -> Policy:
        return self.ctx.policy

    # Every answer carries the booking with its history (queries.with_history), the first answer
    # of a request and its replays alike.

    async def create_booking(self, cmd: CreateBooking) -> Booking:
        return await self._answer(create.create_booking(cmd, ctx=self.ctx))

    async def update_booking(self, cmd: UpdateBooking) -> Booking:
        return await self._answer(change_booking.update_booking(cmd, ctx=self.ctx))

    async def cancel_booking(self, cmd: CancelBooking) -> Booking:
        return await self._answer(change_booking.cancel_booking(cmd, ctx=self.ctx))

    async def change_booking_status(self, cmd: ChangeBookingStatus) -> Booking:
        return await self._answer(change_booking.change_booking_status(cmd, ctx=self.ctx))

    def watch_bookings(self, scope: WatchScope, start: Position | None) -> AsyncIterator[WatchItem]:
        return self.watches.watch(scope, start)

    async def get_booking(self, booking_id: str) -> Booking:
        return await queries.get_booking(booking_id, ctx=self.ctx)

    async def get_booking_by_reference(self, reference: str) -> Booking:
        return await queries.get_booking_by_reference(reference, ctx=self.ctx)

    async def list_bookings(self, query: ListBookings) -> BookingPage:
        return await queries.list_bookings(query, ctx=self.ctx, page_tokens=self.page_tokens)

    async def create_booking_group(self, cmd: CreateBookingGroup) -> BookingGroup:
        group = await group_create.create_group(cmd, ctx=self.ctx)
        return await group_read.with_histories(group, ctx=self.ctx)

    async def get_booking_group(self, group_id: str) -> BookingGroup:
        return await group_read.get_group(group_id, ctx=self.ctx)

    async def cancel_booking_group(self, cmd: CancelBookingGroup) -> BookingGroup:
        return await group_cancel.cancel_group(cmd, ctx=self.ctx)

    async def erase_guest_data(self, cmd: EraseGuestData) -> GuestErasure:
        return await erasure.erase_guest_data(cmd, ctx=self.ctx)

    async def _answer(self, change: Awaitable[Booking]) -> Booking:
        return await queries.with_history(await change, reads=self.ctx.reads)

    async def check_availability(self, query: CheckAvailability) -> Availability:
        return await availability.check_availability(query, ctx=self.ctx)

    async def get_venue_policy(self, venue_id: str) -> VenuePolicy:
        return await venue_policies.get_venue_policy(venue_id, ctx=self.ctx)

    async def update_venue_policy(self, cmd: UpdateVenuePolicy) -> VenuePolicy:
        return await venue_policies.update_venue_policy(cmd, ctx=self.ctx)

    async def search_available_slots(self, query: SearchSlots) -> SlotSearch:
        return await search_available_slots(query, ctx=self.ctx)

    async def purge_idempotency_keys(self) -> int:
        """Deletes idempotency keys past their retention; returns how many."""
        uow = self.ctx.uow()
        async with uow:
            purged = await uow.idempotency.purge(self.ctx.clock())
            await uow.commit()
        return purged

    async def sweep(self) -> int:
        """Runs the clock-driven transitions once (expiry, no-show); returns how many bookings moved."""
        return await sweeper.expire_overdue(ctx=self.ctx) + await sweeper.mark_no_shows(ctx=self.ctx)

    async def recover(self) -> int:
        """Finishes or compensates sagas left between steps; returns how many it took over."""
        return await recovery.recover(self.ctx)
