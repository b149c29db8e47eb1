"""UseCases: every use case with its dependencies bound, the one object transports talk to.

bootstrap() builds it; tests build it with their own parts (a fixed clock, say).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from booking_service.domain.commands import CancelBooking, ChangeBookingStatus, CreateBooking, UpdateBooking
from booking_service.domain.model import Booking
from booking_service.service_layer import availability, change_booking, create_booking, queries, sweeper
from booking_service.service_layer.availability import Availability, CapacitySource, CheckAvailability
from booking_service.service_layer.page_tokens import PageTokens
from booking_service.service_layer.policy import Clock, Policy
from booking_service.service_layer.queries import BookingPage, ListBookings
from booking_service.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class UseCases:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    policy: Policy
    page_tokens: PageTokens
    capacity_sources: Sequence[CapacitySource] = ()

    async def create_booking(self, cmd: CreateBooking) -> Booking:
        return await create_booking.create_booking(cmd, uow=self.uow(), clock=self.clock, policy=self.policy)

    async def update_booking(self, cmd: UpdateBooking) -> Booking:
        return await change_booking.update_booking(cmd, uow=self.uow(), clock=self.clock, policy=self.policy)

    async def cancel_booking(self, cmd: CancelBooking) -> Booking:
        return await change_booking.cancel_booking(cmd, uow=self.uow(), clock=self.clock, policy=self.policy)

    async def change_booking_status(self, cmd: ChangeBookingStatus) -> Booking:
        return await change_booking.change_booking_status(
            cmd, uow=self.uow(), clock=self.clock, policy=self.policy
        )

    async def get_booking(self, booking_id: str) -> Booking:
        return await queries.get_booking(booking_id, uow=self.uow())

    async def get_booking_by_reference(self, reference: str) -> Booking:
        return await queries.get_booking_by_reference(reference, uow=self.uow())

    async def list_bookings(self, query: ListBookings) -> BookingPage:
        return await queries.list_bookings(query, uow=self.uow(), page_tokens=self.page_tokens)

    async def check_availability(self, query: CheckAvailability) -> Availability:
        return await availability.check_availability(
            query, uow=self.uow(), clock=self.clock, sources=self.capacity_sources
        )

    async def purge_idempotency_keys(self) -> int:
        """Deletes idempotency keys past their retention; returns how many."""
        uow = self.uow()
        async with uow:
            purged = await uow.idempotency.purge(self.clock())
            await uow.commit()
        return purged

    async def sweep(self) -> int:
        """Runs the clock-driven transitions once (expiry, no-show); returns how many bookings moved."""
        expired = await sweeper.expire_overdue(uow=self.uow(), clock=self.clock, policy=self.policy)
        no_shows = await sweeper.mark_no_shows(uow=self.uow(), clock=self.clock, policy=self.policy)
        return expired + no_shows
