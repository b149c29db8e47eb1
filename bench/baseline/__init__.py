"""The seed's design, as a measuring stick for the benchmark (issue 19): not a product.

A small FastAPI application written the way the seed describes the service (FastAPI, Pydantic
models, the SQLAlchemy ORM on asyncpg with a session per request, httpx to the peers), doing the same
tables' worth of work per create as the service: the booking (a GiST exclusion constraint refuses
overlapping bookings of one unit), its first history row, the idempotency record and an outbox row,
in one transaction, after the same two peer calls (pricing calculate, inventory reserve; a payment
intent when the venue is paid up front). It serves `POST /api/v1/bookings` and
`GET /api/v1/bookings/{booking_id}` only, with the seed's fields, and creates its own tables at start.

Straightforward, idiomatic code, as a competent team following the seed would write it: neither
deliberately slow nor tuned (SQLAlchemy's default pool of 5 + 10 overflow connections, FastAPI's
default serialization through the response model, uvicorn's defaults: uvloop, httptools). It has no
sagas, no compensation beyond releasing a hold after a refused insert, no outbox relay, no auth. As
SQLAlchemy's session does by default, the idempotency lookup begins the request's transaction, which
stays open (holding a pooled connection) across the two peer calls until the commit.

    DATABASE_URL=postgresql://... INVENTORY_SERVICE_URL=... PRICING_SERVICE_URL=... \\
    PAYMENT_SERVICE_URL=... .venv/bin/uvicorn --factory bench.baseline.app:create_app --port 8003

bench/run.py runs it in one uvicorn process, on its own database of the benchmark's PostgreSQL server
and the benchmark's sandbox peers.
"""
