"""WatchBookings' reads of the outbox on PostgreSQL (the rules they follow: domain/watch.py).

Three reads:
- `head`: the present ((xmin, 0) of a fresh snapshot), the purge horizon (the highest position the
  relay's purge deleted, relay.py) and xmax (no position this database wrote lies past it).
- `read_new`, on the process's one listening session (service_layer/watch.py's hub): every row
  after a position whose transaction is older than every transaction in progress, in position
  order, with the xmin of the same snapshot. A row with a smaller id whose transaction commits late
  is not lost: its xid is at or above that xmin, so it is read in a later round, above the cursor.
- `read_scope`, on a pooled connection, for one watcher catching up: one venue's or guest's rows
  in (after, upto], where `upto` is a cursor of the hub (every row at or below it is final), with
  the purge horizon of the same snapshot: when the purge passed `after`, WatchPositionPurged rather
  than a silent gap.

Rows written before migration 0013 have no xid, venue or guest and are never read here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

from booking_service.adapters.booking_reads import fetch
from booking_service.adapters.connections import Connections
from booking_service.adapters.outbox_relay.relay import CHANNEL
from booking_service.domain.errors import WatchPositionPurged
from booking_service.domain.watch import Change, Head, Position, WatchScope

_HEAD = (
    "SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin, pg_snapshot_xmax(pg_current_snapshot()) AS xmax,"
    " h.xid, h.id FROM booking_outbox_horizon h"
)
_NEW = """
WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
SELECT s.xmin, o.xid, o.id, o.venue_id, o.guest_id, o.payload FROM s LEFT JOIN LATERAL (
    SELECT xid, id, venue_id, guest_id, payload FROM booking_outbox
    WHERE xid IS NOT NULL AND (xid, id) > ($1::xid8, $2::bigint) AND xid < s.xmin
    ORDER BY xid, id LIMIT $3
) o ON true ORDER BY o.xid, o.id
"""
_SCOPE = """
SELECT h.xid AS h_xid, h.id AS h_id, o.xid, o.id, o.payload FROM booking_outbox_horizon h LEFT JOIN LATERAL (
    SELECT xid, id, payload FROM booking_outbox
    WHERE {column} = $1 AND xid IS NOT NULL
      AND (xid, id) > ($2::xid8, $3::bigint) AND (xid, id) <= ($4::xid8, $5::bigint)
    ORDER BY xid, id LIMIT $6
) o ON true ORDER BY o.xid, o.id
"""
_BY_VENUE, _BY_GUEST = _SCOPE.format(column="venue_id"), _SCOPE.format(column="guest_id")


class ListeningSession:
    """The hub's one session: LISTEN on the outbox channel, and the reads of every new row."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def read_new(self, after: Position, limit: int) -> tuple[list[Change], Position]:
        """Rows after `after` that no transaction in progress can precede, and (xmin, 0)."""
        rows = await self._connection.fetch(_NEW, after.xid, after.id, limit)
        changes = [
            Change(Position(r["xid"], r["id"]), r["venue_id"], r["guest_id"], bytes(r["payload"]))
            for r in rows
            if r["id"] is not None
        ]
        return changes, Position(rows[0]["xmin"], 0)


class PostgresChangeFeed:
    def __init__(
        self,
        connections: Connections,
        session_url: str,
        connect: Callable[[str], Awaitable[Any]] = asyncpg.connect,
    ) -> None:
        """`session_url`: where the listening session goes (DATABASE_SESSION_URL behind PgBouncer:
        LISTEN needs a session of its own); `connect` opens it (the service's SessionLimits)."""
        self._connections = connections
        self._session_url = session_url
        self._connect = connect

    @contextlib.asynccontextmanager
    async def listening(self, on_notify: Callable[[], None]) -> AsyncIterator[ListeningSession]:
        connection: asyncpg.Connection = await self._connect(self._session_url)
        try:
            await connection.add_listener(CHANNEL, lambda *_: on_notify())
            yield ListeningSession(connection)
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def head(self) -> Head:
        row = (await self._fetch(_HEAD))[0]
        return Head(Position(row["xmin"], 0), Position(row["xid"], row["id"]), row["xmax"])

    async def read_scope(
        self, scope: WatchScope, after: Position, upto: Position, limit: int
    ) -> list[Change]:
        """`scope`'s rows in (after, upto]; WatchPositionPurged when some after `after` are gone."""
        statement, key = (_BY_VENUE, scope.venue_id) if scope.venue_id else (_BY_GUEST, scope.guest_id)
        rows = await self._fetch(statement, key, after.xid, after.id, upto.xid, upto.id, limit)
        horizon = Position(rows[0]["h_xid"], rows[0]["h_id"])
        if horizon > after:
            raise WatchPositionPurged(str(after), str(horizon))
        return [
            Change(
                Position(r["xid"], r["id"]),
                scope.venue_id or None,
                scope.guest_id or None,
                bytes(r["payload"]),
            )
            for r in rows
            if r["id"] is not None
        ]

    async def _fetch(self, statement: str, *arguments: Any) -> list[Any]:
        return await fetch(self._connections, statement, *arguments)
