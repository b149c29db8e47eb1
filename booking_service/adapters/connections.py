"""The request path's connections: asyncpg's own pool, behind `acquire` and `release`.

Every unit of work (unit_of_work.py) and every read (booking_reads.py, outbox_watch.py) takes its
connection here; their statements run on it directly (driver.py). SQLAlchemy's pool cost about
125 us of CPU per checkout and return (three greenlet hand-offs: connect, get_raw_connection,
close), asyncpg's about 45 us without a reset query (issue 19, measured with process_time).

What the engine's pool did, this one does the same way (database.py's docstring applies to both):
- the connections: asyncpg.connect's arguments from SessionLimits.connect_args on driver_url's URL,
  as the relay's and readiness's sessions; behind a transaction pooler (`transaction_pooling`),
  no startup parameters and statement_cache_size=0 (unnamed statements only), each unit of work
  setting its limits with SET LOCAL;
- the codecs: SQLAlchemy's asyncpg dialect installed its json and jsonb codecs on each connection,
  which the adapters rely on (rows.py, saga_log.py, outbox.py...): a json or jsonb value comes back
  decoded (json.loads: a dict, a list...) and is passed in as a str (json.dumps). `_json_codecs`
  installs the same on each new connection;
- the size: at most `pool_size + max_overflow` connections, each opened when a call first needs it;
  a call waits `timeout_seconds` for a free one, then gets PoolExhausted (StorageUnavailable,
  pool_exhausted: errors.translate). With no overflow (DB_MAX_OVERFLOW=0, the default) an open
  connection stays open, as in the engine's pool; with overflow, any connection left unused for
  IDLE_SECONDS is closed, so that the pool shrinks back after a burst (asyncpg has no floor that it
  does not open at once, and the engine's habit of closing an overflow connection as soon as it
  was given back made sustained load above the pool open a connection per call);
- a connection a failure made unusable (DriverSession.unusable_after) is closed, never given
  back (gracefully within 2 s, else at once, as SQLAlchemy's invalidate did); so is one still
  inside a transaction, which the unit of work never leaves (it commits or rolls back first);
- no reset round trip on release (asyncpg's default: RESET ALL, UNLISTEN *, advisory unlock):
  nothing of a session outlives a transaction on these connections: no session SET (the limits are
  startup parameters or SET LOCAL), no LISTEN, no session-scoped advisory lock (the sessions that
  need them open their own: database.open_session); the engine's pool ran none either (its
  rollback-on-return saw no transaction of its own). asyncpg's own housekeeping still runs.
There is no connection age limit: the engine's pool had none (no pool_recycle).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from booking_service.adapters.database import SessionLimits, async_url, driver_url
from booking_service.adapters.errors import PoolExhausted

#: With overflow, how long a connection may stay unused before it is closed.
IDLE_SECONDS = 60.0
#: asyncpg closes a connection after this many queries (its default: 50,000); the engine's pool
#: never did, and a reconnect is a pause for the call that pays it.
_QUERIES_UNBOUNDED = sys.maxsize
#: How long aclose waits for connections in use to be given back before it ends them.
CLOSE_SECONDS = 5.0


class Connections:
    """The pool of the calls' connections: `acquire` one, use it, `release` it (discarding it if
    a failure left it unusable). Opened on the first acquire, in the running event loop (each
    process of `serve --workers N` has its own); `aclose` closes it."""

    def __init__(
        self,
        database_url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        timeout_seconds: float = 5.0,
        limits: SessionLimits | None = None,
        transaction_pooling: bool = False,
    ) -> None:
        """`transaction_pooling`: `database_url` is a pooler in transaction mode (database.py);
        each transaction must then begin with `limits.per_transaction()`. ValueError for a
        `database_url` that is not a postgresql:// URL."""
        #: What a SQL span says of the database (db.name, server.address): sql_tracing.py.
        self.url: URL = async_url(database_url)
        #: DB_POOL_SIZE, as the pool gauges report it (booking_db_pool_size).
        self.size = pool_size
        #: The most connections open at once.
        self.max_size = pool_size + max_overflow
        self._timeout = timeout_seconds
        self._dsn = driver_url(database_url)
        self._connect_args = (limits or SessionLimits()).connect_args(startup=not transaction_pooling)
        if transaction_pooling:
            self._connect_args["statement_cache_size"] = 0  # unnamed statements, parsed for each use
        self._idle_seconds = IDLE_SECONDS if max_overflow else 0.0
        self._pool: asyncpg.Pool | None = None
        self._proxies: dict[asyncpg.Connection, Any] = {}  # the connections in use, and their proxies
        self._opening = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.max_size)
        self._closed = False

    async def acquire(self) -> asyncpg.Connection:
        """A connection of the pool; give it back with `release`. PoolExhausted if none is free
        within the pool timeout; what asyncpg.connect raises if a new one cannot be opened.

        The connection itself, not asyncpg's proxy for it: the pool detaches a proxy as soon as
        the server ends its connection, and every later use of it (is_closed, a rollback) would
        raise "released back to the pool" instead of saying what happened to the connection."""
        pool = self._pool or await self._open()
        slots = self._slots
        if slots.locked():  # every connection is in use: wait, within the pool timeout
            try:
                async with asyncio.timeout(self._timeout):
                    await slots.acquire()
            except TimeoutError:
                raise PoolExhausted(self._timeout) from None
        else:
            await slots.acquire()
        try:
            proxy = await pool.acquire()
        except BaseException:
            slots.release()
            raise
        connection: asyncpg.Connection = proxy._con  # asyncpg 0.32's PoolConnectionProxy
        self._proxies[connection] = proxy
        return connection

    async def release(self, connection: asyncpg.Connection, *, discard: bool = False) -> None:
        """Gives `connection` back; `discard`: a failure made it unusable, so it is closed (as is
        one the server ended, or one still inside a transaction) and a later acquire opens
        another."""
        proxy = self._proxies.pop(connection)
        try:
            if discard or self._pool is None or connection.is_closed() or connection.is_in_transaction():
                await _end(connection)  # its holder goes back to asyncpg's pool, empty
            else:
                await self._pool.release(proxy)
        finally:
            self._slots.release()

    @property
    def in_use(self) -> int:
        return len(self._proxies)

    def stats(self) -> tuple[int, int, int]:
        """In use, idle (open and free), and the configured size (DB_POOL_SIZE)."""
        idle = self._pool.get_idle_size() if self._pool is not None else 0
        return self.in_use, idle, self.size

    async def aclose(self) -> None:
        """Closes every connection: those in use once given back, within CLOSE_SECONDS (then
        they are ended)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await pool.close()
        except TimeoutError:
            pool.terminate()

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._closed:
                raise asyncpg.InterfaceError("the connection pool is closed")
            if self._pool is None:
                pool = asyncpg.create_pool(
                    self._dsn,
                    init_size=0,
                    min_size=0,
                    max_size=self.max_size,
                    max_queries=_QUERIES_UNBOUNDED,
                    max_inactive_connection_lifetime=self._idle_seconds,
                    init=_json_codecs,
                    reset=_nothing_to_reset,
                    **self._connect_args,
                )
                await pool
                self._pool = pool
            return self._pool


async def _end(connection: Any) -> None:
    """Closes a connection that must not serve again as the engine's pool did (SQLAlchemy's
    AsyncAdapt_terminate): gracefully within 2 s, so that the server hears of it and stops what it
    was running (a statement cut off by a cancellation), else at once."""
    try:
        await asyncio.shield(connection.close(timeout=2))
    except (TimeoutError, asyncio.CancelledError, OSError, asyncpg.PostgresError) as exc:
        connection.terminate()
        if isinstance(exc, asyncio.CancelledError):
            raise


async def _json_codecs(connection: asyncpg.Connection) -> None:
    """The json and jsonb codecs of SQLAlchemy's asyncpg dialect (setup_asyncpg_json_codec and
    setup_asyncpg_jsonb_codec): binary format, values decoded with json.loads, passed in as str."""
    await connection.set_type_codec(
        "json", encoder=str.encode, decoder=_json_decoded, schema="pg_catalog", format="binary"
    )
    await connection.set_type_codec(
        "jsonb", encoder=_jsonb_encoded, decoder=_jsonb_decoded, schema="pg_catalog", format="binary"
    )


def _json_decoded(value: bytes) -> Any:
    return json.loads(value.decode())


def _jsonb_encoded(value: str) -> bytes:
    return b"\x01" + value.encode()  # jsonb's binary format: a version byte, then the text


def _jsonb_decoded(value: bytes) -> Any:
    return json.loads(value[1:].decode())


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """The reset on release: none (see the module's docstring)."""
