"""The baseline application: FastAPI routes, a session per request, the peers over httpx."""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.baseline.models import Base, Booking, BookingStatusHistory, IdempotencyKey, OutboxEvent
from bench.baseline.peers import PeerError, Peers
from bench.baseline.schemas import BookingCreate, BookingOut, booking_out


def async_url(url: str) -> str:
    """postgresql://... as SQLAlchemy's asyncpg URL."""
    return url.replace("postgresql://", "postgresql+asyncpg://", 1).replace(
        "postgres://", "postgresql+asyncpg://", 1
    )


def create_app(
    database_url: str | None = None,
    peer_urls: tuple[str, str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The application; with no arguments, configured from the environment (the seed's names)."""
    database_url = database_url or os.environ["DATABASE_URL"]
    inventory, pricing, payment = peer_urls or (
        os.environ["INVENTORY_SERVICE_URL"],
        os.environ["PRICING_SERVICE_URL"],
        os.environ["PAYMENT_SERVICE_URL"],
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_engine(async_url(database_url))
        async with engine.begin() as connection:
            await connection.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
            await connection.run_sync(Base.metadata.create_all)
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with httpx.AsyncClient(timeout=5.0, transport=transport) as client:
            app.state.peers = Peers(client, inventory, pricing, payment)
            yield
        await engine.dispose()

    app = FastAPI(title="Booking service (seed design baseline)", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/bookings", status_code=201, response_model=BookingOut)
    async def create_booking(body: BookingCreate, session: SessionDep, peers: PeersDep) -> BookingOut:
        fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        if body.idempotency_key:
            existing = await session.get(IdempotencyKey, body.idempotency_key)
            if existing is not None:
                if existing.request_hash != fingerprint:
                    raise HTTPException(422, "idempotency key reused with a different request")
                return BookingOut.model_validate(existing.response)
        if body.end_time <= body.start_time:
            raise HTTPException(422, "end_time must be after start_time")

        booking_id = uuid.uuid4()
        try:
            quote = await peers.calculate_price(body)
            reservation_id = await peers.reserve(booking_id, body)
            intent_id = (
                await peers.create_payment_intent(booking_id, quote) if quote.requires_prepayment else None
            )
        except PeerError as error:
            raise HTTPException(409 if error.status == 409 else 502, str(error)) from None

        booking = Booking(
            booking_id=booking_id,
            booking_reference="BK-" + secrets.token_hex(5).upper(),
            idempotency_key=body.idempotency_key,
            guest_id=body.guest.guest_id,
            guest_name=body.guest.name,
            guest_email=body.guest.email,
            guest_phone=body.guest.phone,
            venue_id=body.venue.venue_id,
            venue_type=body.venue.venue_type,
            venue_name=body.venue.name,
            venue_time_zone=body.venue.time_zone,
            unit_id=body.unit_id,
            start_time=body.start_time,
            end_time=body.end_time,
            party_size=body.party_size,
            special_requests=body.special_requests,
            price_amount_minor=quote.amount_minor,
            price_currency=quote.currency,
            pricing_quote_id=quote.quote_id,
            payment_intent_id=intent_id,
            inventory_reservation_id=reservation_id,
        )
        session.add(booking)
        session.add(BookingStatusHistory(booking=booking, to_status="pending", reason="created"))
        try:
            await session.flush()
            result = booking_out(booking)
            response = result.model_dump(mode="json")
            if body.idempotency_key:
                session.add(
                    IdempotencyKey(key=body.idempotency_key, request_hash=fingerprint, response=response)
                )
            session.add(OutboxEvent(aggregate_id=booking_id, event_type="booking.created", payload=response))
            await session.commit()
        except IntegrityError:
            await session.rollback()
            await peers.release(reservation_id)
            raise HTTPException(409, "the unit is already booked for an overlapping time") from None
        return result

    @app.get("/api/v1/bookings/{booking_id}", response_model=BookingOut)
    async def get_booking(booking_id: uuid.UUID, session: SessionDep) -> BookingOut:
        booking = await session.get(Booking, booking_id)
        if booking is None:
            raise HTTPException(404, f"booking {booking_id} not found")
        return booking_out(booking)

    return app


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


def get_peers(request: Request) -> Peers:
    peers: Peers = request.app.state.peers
    return peers


SessionDep = Annotated[AsyncSession, Depends(get_session)]
PeersDep = Annotated[Peers, Depends(get_peers)]
