"""The baseline's tables, as SQLAlchemy ORM classes (its own database; created at start)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, ForeignKey, Index, String, column, func, text
from sqlalchemy.dialects.postgresql import JSONB, ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ACTIVE_STATUSES = ("pending", "confirmed", "checked_in")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, datetime: DateTime(timezone=True)}


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        # No two active bookings of one unit over overlapping times (needs btree_gist).
        ExcludeConstraint(
            (column("venue_id"), "="),
            (column("unit_id"), "="),
            (func.tstzrange(column("start_time"), column("end_time")), "&&"),
            name="bookings_no_overlap",
            using="gist",
            where=text("unit_id IS NOT NULL AND status IN ('pending', 'confirmed', 'checked_in')"),
        ),
        Index("ix_bookings_guest_id", "guest_id"),
        Index("ix_bookings_venue_id_start_time", "venue_id", "start_time"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    booking_reference: Mapped[str] = mapped_column(String(16), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    guest_id: Mapped[str] = mapped_column(String(64))
    guest_name: Mapped[str] = mapped_column(String(200))
    guest_email: Mapped[str] = mapped_column(String(320))
    guest_phone: Mapped[str] = mapped_column(String(32), default="")
    venue_id: Mapped[str] = mapped_column(String(64))
    venue_type: Mapped[str] = mapped_column(String(32))
    venue_name: Mapped[str] = mapped_column(String(200))
    venue_time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    unit_id: Mapped[str | None] = mapped_column(String(64))
    start_time: Mapped[datetime]
    end_time: Mapped[datetime]
    party_size: Mapped[int]
    special_requests: Mapped[str] = mapped_column(default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    price_amount_minor: Mapped[int]
    price_currency: Mapped[str] = mapped_column(String(3))
    pricing_quote_id: Mapped[str] = mapped_column(String(64))
    payment_intent_id: Mapped[str | None] = mapped_column(String(64))
    inventory_reservation_id: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    history: Mapped[list[BookingStatusHistory]] = relationship(back_populates="booking")


class BookingStatusHistory(Base):
    __tablename__ = "booking_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.booking_id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(default="")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    booking: Mapped[Booking] = relationship(back_populates="history")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    aggregate_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
