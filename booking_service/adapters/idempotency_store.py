"""Idempotency keys in PostgreSQL: one row per (method, key), claimed inside the use case's transaction.

A claim inserts the row; a concurrent claim of the same key blocks on the primary key until the
first transaction ends (lock_timeout bounds the wait), then finds the finished row and replays it,
or, if the first rolled back, inserts and runs. A row past its retention counts as free and is
taken over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from booking_service.adapters.driver import DriverSession, columns, insert_sql
from booking_service.adapters.groups import from_group_snapshot, group_snapshot
from booking_service.adapters.rows import from_snapshot, snapshot
from booking_service.adapters.tables import idempotency_keys
from booking_service.domain.erasure import is_erased_guest
from booking_service.domain.group import BookingGroup
from booking_service.domain.model import Booking
from booking_service.service_layer.unit_of_work import IdempotencyStore, StoredKey

# Statements on the driver (see driver.py). jsonb goes in as JSON text and comes out decoded (the
# codecs SQLAlchemy's dialect installs on the pool's connections).
_COLUMNS = columns(idempotency_keys)
_CLAIM = insert_sql(idempotency_keys, _COLUMNS, suffix="ON CONFLICT DO NOTHING RETURNING key")
_TAKE_OVER = insert_sql(
    idempotency_keys,
    _COLUMNS,
    suffix="ON CONFLICT (scope, key) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS if name not in ("scope", "key"))
    # only a key past its retention (the new claim's created_at is `now`)
    + " WHERE idempotency_keys.expires_at <= EXCLUDED.created_at RETURNING key",
)
_FIND = "SELECT fingerprint, response, expires_at FROM idempotency_keys WHERE scope = $1 AND key = $2"
_COMPLETE = "UPDATE idempotency_keys SET response = $3 WHERE scope = $1 AND key = $2"
#: An answer of an erased guest: the request's digest goes too (adapters/erasure.py does the same).
_COMPLETE_ERASED = (
    "UPDATE idempotency_keys SET response = $3, fingerprint = coalesce(erased_fingerprint, fingerprint),"
    " erased_fingerprint = NULL WHERE scope = $1 AND key = $2"
)
# Only a claim still in progress, and only by its owner: a key whose answer is stored is never given
# back, and a late compensation never frees a later request's claim (a claim from before owners
# were recorded, owner NULL, goes to whoever gives it back).
_RELEASE = (
    "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND response IS NULL"
    " AND (owner = $3 OR owner IS NULL)"
)
_PURGE = "DELETE FROM idempotency_keys WHERE expires_at <= $1"


class PostgresIdempotencyStore(IdempotencyStore):
    def __init__(self, session: DriverSession) -> None:
        self._db = session

    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: bytes,
        now: datetime,
        ttl: timedelta,
        owner: str | None = None,
        *,
        erased_fingerprint: bytes | None = None,
    ) -> StoredKey | None:
        values = {
            "owner": owner,
            "erased_fingerprint": erased_fingerprint,
            "scope": scope,
            "key": key,
            "fingerprint": fingerprint,
            "response": None,
            "created_at": now,
            "expires_at": now + ttl,
        }
        row = [values[name] for name in _COLUMNS]
        if await self._db.fetchrow(_CLAIM, *row) is not None:
            return None
        found = await self._db.fetchrow(_FIND, scope, key)
        if found is None or found["expires_at"] <= now:
            # Purged meanwhile, or past its retention: take the key over as if it were new.
            if await self._db.fetchrow(_TAKE_OVER, *row) is not None:
                return None
            return await self.claim(
                scope, key, fingerprint, now, ttl, owner, erased_fingerprint=erased_fingerprint
            )
        stored = found["response"]
        if stored is not None and "answer" in stored:  # neither a booking nor a group (an erasure's)
            return StoredKey(bytes(found["fingerprint"]), None, answer=stored["answer"])
        if stored is not None and "group" in stored:  # a group call's answer
            return StoredKey(bytes(found["fingerprint"]), None, from_group_snapshot(stored))
        response = from_snapshot(stored) if stored is not None else None
        return StoredKey(bytes(found["fingerprint"]), response)

    async def complete(
        self, scope: str, key: str, response: Booking | BookingGroup | Mapping[str, Any]
    ) -> None:
        erased = False
        if isinstance(response, BookingGroup):
            data, erased = group_snapshot(response), is_erased_guest(response.guest)
        elif isinstance(response, Booking):
            data, erased = snapshot(response), response.guest_erased_version is not None
        else:
            data = {"answer": dict(response)}
        await self._db.execute(_COMPLETE_ERASED if erased else _COMPLETE, scope, key, json.dumps(data))

    async def release(self, scope: str, key: str, owner: str | None = None) -> None:
        await self._db.execute(_RELEASE, scope, key, owner)

    async def purge(self, now: datetime) -> int:
        status = await self._db.execute(_PURGE, now)
        return int(status.rsplit(" ", 1)[-1])
