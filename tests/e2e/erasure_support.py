"""Test support for guest erasure: a guest's personal data unique to one test, and the search for
any trace of it in every table of the database, by SQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from booking.v1 import booking_pb2 as pb
from booking.v1 import guest_erasure_pb2 as epb

MARKER = "[erased]"


@dataclass(frozen=True)
class Person:
    """One guest's personal data, every value unique to the test (so a search finds only theirs)."""

    guest_id: str
    name: str
    email: str
    phone: str
    special_requests: str
    cancel_reason: str
    note: str  # a reason given for another change (a status change, a new name)

    @classmethod
    def make(cls, ids: Callable[[str], str], who: str = "ada") -> Person:
        tag = ids(who)
        return cls(
            guest_id=f"guest-{tag}",
            name=f"Name {tag}",
            email=f"{tag}@example.com",
            phone=f"+4917{uuid.uuid4().int % 10**9:09d}",
            special_requests=f"allergic to {tag} nuts",
            cancel_reason=f"{tag} has the flu",
            note=f"{tag} called the desk",
        )

    @property
    def guest(self) -> pb.Guest:
        return pb.Guest(guest_id=self.guest_id, name=self.name, email=self.email, phone=self.phone)

    @property
    def values(self) -> tuple[str, ...]:
        """What must be gone after an erasure (the phone also without its +, as a parser may drop it)."""
        texts = (self.name, self.email, self.phone, self.phone[1:], self.special_requests)
        return (*texts, self.cancel_reason, self.note)

    def erase(self, key: str = "") -> epb.EraseGuestDataRequest:
        return epb.EraseGuestDataRequest(guest_id=self.guest_id, idempotency_key=key)


async def traces(database_url: str, values: tuple[str, ...]) -> dict[str, list[str]]:
    """Every table (of the public schema: today's and any added later) whose rows hold one of the
    values, as text (every column, JSON included) or as bytes (bytea columns: the outbox's protobuf
    payloads); {value: [table, ...]} for the values found."""
    found: dict[str, list[str]] = {}
    connection = await asyncpg.connect(database_url)
    try:
        tables = [
            r["table_name"]
            for r in await connection.fetch(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ]
        binary = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type = 'bytea'"
        )
        for value in values:
            for table in tables:
                query = f'SELECT count(*) FROM "{table}" t WHERE strpos(t::text, $1) > 0'
                if await connection.fetchval(query, value):
                    found.setdefault(value, []).append(table)
            for row in binary:
                table, column = row["table_name"], row["column_name"]
                needle = "convert_to($1, 'UTF8')"
                query = f'SELECT count(*) FROM "{table}" WHERE position({needle} IN "{column}") > 0'
                if await connection.fetchval(query, value):
                    found.setdefault(value, []).append(f"{table}.{column}")
    finally:
        await connection.close()
    return found


async def outbox(database_url: str, booking_id: str) -> list[tuple[int, str, bool]]:
    """The booking's outbox rows: (booking_version, event_type, sent), in order."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT booking_version, event_type, sent_at IS NOT NULL AS sent FROM booking_outbox"
            " WHERE booking_id = $1::uuid ORDER BY id",
            booking_id,
        )
    finally:
        await connection.close()
    return [(r["booking_version"], r["event_type"], r["sent"]) for r in rows]


async def mark_sent(database_url: str, booking_id: str) -> None:
    """Marks the booking's events sent, as the relay does once the broker has them (they are kept
    for the retention period, and a feed may replay them)."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE booking_outbox SET sent_at = now() WHERE booking_id = $1::uuid", booking_id
        )
    finally:
        await connection.close()


async def kept_fingerprint(database_url: str, key: str) -> bytes:
    """The request digest an idempotency key's record keeps."""
    connection = await asyncpg.connect(database_url)
    try:
        kept = await connection.fetchval("SELECT fingerprint FROM idempotency_keys WHERE key = $1", key)
        return bytes(kept)
    finally:
        await connection.close()
