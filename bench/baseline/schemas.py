"""The baseline's request and response bodies, as Pydantic models (the seed's fields)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bench.baseline.models import Booking

VenueType = Literal[
    "VENUE_TYPE_HOTEL", "VENUE_TYPE_RESTAURANT", "VENUE_TYPE_CAFE", "VENUE_TYPE_RETAIL_EXPERIENCE"
]


class Guest(BaseModel):
    guest_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)  # EmailStr needs email-validator
    phone: str = ""


class Venue(BaseModel):
    venue_id: str = Field(min_length=1, max_length=64)
    venue_type: VenueType
    name: str = Field(min_length=1, max_length=200)
    time_zone: str = "UTC"


class BookingCreate(BaseModel):
    guest: Guest
    venue: Venue
    unit_id: str | None = None
    start_time: datetime
    end_time: datetime
    party_size: int = Field(ge=1, le=100)
    special_requests: str = ""
    idempotency_key: str | None = Field(default=None, max_length=255)


class Price(BaseModel):
    amount_minor: int
    currency: str


class BookingOut(BaseModel):
    booking_id: uuid.UUID
    booking_reference: str
    guest: Guest
    venue: Venue
    unit_id: str | None
    start_time: datetime
    end_time: datetime
    party_size: int
    special_requests: str
    status: str
    price: Price
    payment_intent_id: str | None
    inventory_reservation_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


def booking_out(booking: Booking) -> BookingOut:
    return BookingOut(
        booking_id=booking.booking_id,
        booking_reference=booking.booking_reference,
        guest=Guest(
            guest_id=booking.guest_id,
            name=booking.guest_name,
            email=booking.guest_email,
            phone=booking.guest_phone,
        ),
        venue=Venue(
            venue_id=booking.venue_id,
            venue_type=booking.venue_type,  # type: ignore[arg-type]
            name=booking.venue_name,
            time_zone=booking.venue_time_zone,
        ),
        unit_id=booking.unit_id,
        start_time=booking.start_time,
        end_time=booking.end_time,
        party_size=booking.party_size,
        special_requests=booking.special_requests,
        status=booking.status,
        price=Price(amount_minor=booking.price_amount_minor, currency=booking.price_currency),
        payment_intent_id=booking.payment_intent_id,
        inventory_reservation_id=booking.inventory_reservation_id,
        version=booking.version,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
    )
