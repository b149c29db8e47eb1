"""Idempotency keys in PostgreSQL: one row per (method, key), claimed inside the use case's transaction.

A claim inserts the row; a concurrent claim of the same key blocks on the primary key until the
first transaction ends (lock_timeout bounds the wait), then finds the finished row and replays it,
or, if the first rolled back, inserts and runs. A row past its retention counts as free and is
taken over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from booking_service.adapters.rows import from_snapshot, snapshot
from booking_service.adapters.tables import idempotency_keys
from booking_service.domain.model import Booking
from booking_service.service_layer.unit_of_work import IdempotencyStore, StoredKey

_k = idempotency_keys.c

# Built once: the hot path passes only parameters, so SQLAlchemy neither rebuilds nor re-keys the
# statement on every call (its compiled form is cached by the statement's shape).
_CLAIM = insert(idempotency_keys).on_conflict_do_nothing().returning(_k.key)
_COMPLETE = update(idempotency_keys).where(_k.scope == bindparam("_scope"), _k.key == bindparam("_key"))


class SqlAlchemyIdempotencyStore(IdempotencyStore):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(
        self, scope: str, key: str, fingerprint: bytes, now: datetime, ttl: timedelta
    ) -> StoredKey | None:
        values = {
            "scope": scope,
            "key": key,
            "fingerprint": fingerprint,
            "response": None,
            "created_at": now,
            "expires_at": now + ttl,
        }
        inserted = await self._conn.execute(_CLAIM, values)
        if inserted.first() is not None:
            return None
        row = (
            await self._conn.execute(
                select(_k.fingerprint, _k.response, _k.expires_at).where(_k.scope == scope, _k.key == key)
            )
        ).first()
        if row is None or row.expires_at <= now:
            # Purged meanwhile, or past its retention: take the key over as if it were new.
            taken = await self._conn.execute(
                insert(idempotency_keys)
                .values(values)
                .on_conflict_do_update(
                    index_elements=[_k.scope, _k.key],
                    set_={k: v for k, v in values.items() if k not in ("scope", "key")},
                    where=_k.expires_at <= now,
                )
                .returning(_k.key)
            )
            if taken.first() is not None:
                return None
            return await self.claim(scope, key, fingerprint, now, ttl)
        response = from_snapshot(row.response) if row.response is not None else None
        return StoredKey(bytes(row.fingerprint), response)

    async def complete(self, scope: str, key: str, response: Booking) -> None:
        await self._conn.execute(_COMPLETE, {"_scope": scope, "_key": key, "response": snapshot(response)})

    async def release(self, scope: str, key: str) -> None:
        await self._conn.execute(delete(idempotency_keys).where(_k.scope == scope, _k.key == key))

    async def purge(self, now: datetime) -> int:
        result = await self._conn.execute(delete(idempotency_keys).where(_k.expires_at <= now))
        return result.rowcount
