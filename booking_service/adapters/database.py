"""The async engine: asyncpg under SQLAlchemy, pooled, for what runs SQLAlchemy itself off the request
path (the calls' connections come from asyncpg's own pool: connections.py, which keeps the same
rules); the limits every database session of this service keeps (the pools', the outbox relay's),
so that no connection waits without bound; and the check a command makes before it relies on the
database (DatabaseUnreachable says where and why).

Behind a pooler in transaction mode (PgBouncer's `pool_mode = transaction`, DB_TRANSACTION_POOLING),
consecutive transactions of one pooled connection may run on different server sessions, and between
them the server session serves other clients. Nothing of a session may then be relied on past the
transaction that made it (on either pool):
- prepared statements: asyncpg's statement cache and SQLAlchemy's are off, and both prepare
  unnamed statements, which the next statement replaces (a named one would be missing on the next
  server session, or collide with another client's of the same name);
- settings: PgBouncer refuses startup parameters it does not know (statement_timeout and the other
  limits), and a session `SET` would stay behind for other clients; each unit of work sets its
  limits with `SET LOCAL` instead (`SessionLimits.per_transaction`), which ends with it;
- advisory locks, LISTEN, and anything else held across transactions: not on the pool at all; the
  sessions that need them (the outbox relay, the migrations) use DATABASE_SESSION_URL.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: The schemes DATABASE_URL may have (libpq's, and SQLAlchemy's name for this driver).
SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def async_url(database_url: str, setting: str = "DATABASE_URL") -> URL:
    """The SQLAlchemy asyncpg URL for a libpq-style `postgresql://` URL (as DATABASE_URL gives);
    ValueError naming `setting` for another scheme."""
    scheme = urlsplit(database_url).scheme
    if scheme not in SCHEMES:
        if not scheme:
            raise ValueError(
                f"{setting} must be a postgresql:// URL, such as "
                "postgresql://user:password@host:5432/database; it has no scheme"
            )
        raise ValueError(f"{setting} must be a postgresql:// URL, not a {scheme}:// one")
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):  # its words would repeat the URL, password and all
        raise ValueError(
            f"{setting} is not a URL that can be read, such as postgresql://user:password@host:5432/database"
        ) from None
    return url.set(drivername="postgresql+asyncpg")


def driver_url(database_url: str) -> str:
    """The URL asyncpg.connect takes for DATABASE_URL (for the sessions outside the pool: the
    relay's, readiness's, the schema check's)."""
    scheme = urlsplit(database_url).scheme
    return "postgresql" + database_url[len(scheme) :] if scheme == "postgresql+asyncpg" else database_url


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """What every database session of this service is held to (seconds).

    - `connect`: to open a connection (asyncpg's connect timeout);
    - `statement`: the server cancels a statement running longer (statement_timeout; the call is
      then ABORTED, retry), and the driver gives up on an answer a little later (command_timeout),
      so a connection whose server went silent is noticed and dropped;
    - `lock`: a request waiting for another's row or key gives up (lock_timeout; ABORTED, retry);
    - `keepalive`: the server probes an idle client after this long, then every third of it, and
      ends the session after three unanswered probes (tcp_keepalives_*): a relay whose network
      vanished loses its session, and with it its outbox partitions' advisory locks, within about
      twice this, instead of the kernel's two hours;
    - a transaction left idle ends after 60 s (idle_in_transaction_session_timeout).
    """

    connect: float = 5.0
    statement: float = 30.0
    lock: float = 5.0
    keepalive: int = 10

    def _transaction_settings(self) -> dict[str, str]:
        """The settings that bound one transaction (milliseconds)."""
        return {
            "statement_timeout": str(int(self.statement * 1000)),
            "lock_timeout": str(int(self.lock * 1000)),
            "idle_in_transaction_session_timeout": "60000",
        }

    def _session_settings(self) -> dict[str, str]:
        """The transaction's settings, and the keepalive of the session's own TCP connection."""
        return {
            **self._transaction_settings(),
            "tcp_keepalives_idle": str(self.keepalive),
            "tcp_keepalives_interval": str(max(1, self.keepalive // 3)),
            "tcp_keepalives_count": "3",
        }

    def connect_args(self, application: str = "booking-service", *, startup: bool = True) -> dict[str, Any]:
        """asyncpg.connect's keyword arguments (the request pool's, SQLAlchemy's connect_args, or
        the relay's own).

        `startup`: the settings travel as startup parameters, which PostgreSQL takes and PgBouncer
        refuses ("unsupported startup parameter", in every pool mode); without, only
        application_name does, and the session is set up with `per_session` (open_session) or each
        transaction with `per_transaction`."""
        settings = self._session_settings() if startup else {}
        return {
            "timeout": self.connect,
            "command_timeout": self.statement + 5,
            "server_settings": {"application_name": application, **settings},
        }

    def per_session(self) -> str:
        """`SET` statements for the whole session (one simple query, no round trip per setting)."""
        return "; ".join(f"SET {name} = '{value}'" for name, value in self._session_settings().items())

    def per_transaction(self) -> str:
        """`SET LOCAL` statements for the transaction just begun: they end with it, so a server
        session a transaction pooler hands on keeps none of them."""
        return "; ".join(
            f"SET LOCAL {name} = '{value}'" for name, value in self._transaction_settings().items()
        )


async def open_session(
    url: str, *, limits: SessionLimits, application: str, startup: bool = True
) -> asyncpg.Connection:
    """A session of its own outside the pool (the relay's), held to `limits`: given as startup
    parameters, or (`startup=False`, for a URL through PgBouncer, even in session mode) with `SET`
    right after connecting. Raises what asyncpg.connect raises (OSError, TimeoutError,
    asyncpg.PostgresError)."""
    connection: asyncpg.Connection = await asyncpg.connect(
        driver_url(url), **limits.connect_args(application, startup=startup)
    )
    if not startup:
        try:
            await connection.execute(limits.per_session())
        except BaseException:
            connection.terminate()
            raise
    return connection


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_seconds: float = 5.0,
    limits: SessionLimits | None = None,
    transaction_pooling: bool = False,
) -> AsyncEngine:
    """`transaction_pooling`: `database_url` is a pooler in transaction mode (see the module's
    docstring); each transaction must then begin with `limits.per_transaction()`."""
    connect_args = (limits or SessionLimits()).connect_args(startup=not transaction_pooling)
    if transaction_pooling:
        connect_args |= {
            "statement_cache_size": 0,  # asyncpg: unnamed statements, parsed for each use
            "prepared_statement_cache_size": 0,  # SQLAlchemy's own cache, on the same names
            "prepared_statement_name_func": _unnamed,
        }
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        hide_parameters=True,  # errors would quote the statement's values: guest email and phone
        connect_args=connect_args,
    )


def _unnamed() -> str:
    """The name of SQLAlchemy's prepared statements behind a transaction pooler: none. SQLAlchemy
    runs each inside a transaction it began, so prepare and execute meet one server session; a
    unique name (SQLAlchemy's documentation suggests a uuid) would not collide, but every statement
    would stay behind on a server session until that closed."""
    return ""


class DatabaseUnreachable(Exception):
    """The database did not let this service in: `where` it was sought (host:port/database, never
    the password) and `reason`, in words (refused, unknown host, no answer, the server's refusal)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"cannot reach the database at {where}: {reason}")
        self.where, self.reason = where, reason


async def check_reachable(database_url: str, timeout_seconds: float) -> None:
    """Opens one connection and closes it, within `timeout_seconds`; raises DatabaseUnreachable."""
    try:
        connection = await asyncpg.connect(driver_url(database_url), timeout=timeout_seconds)
    except ConnectionRefusedError:
        reason = "connection refused (no PostgreSQL listens there)"
    except socket.gaierror as error:
        reason = f"unknown host ({error.strerror})"
    except TimeoutError:
        reason = f"no answer within {timeout_seconds:g} s"
    except OSError as error:
        reason = error.strerror or str(error)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        reason = str(error)  # the server's own words: password, role, database, too many clients
    else:
        await connection.close()
        return
    raise DatabaseUnreachable(_where(database_url), reason)


def _where(database_url: str) -> str:
    url = make_url(driver_url(database_url))
    socket_dir = url.query.get("host")
    host = url.host or (socket_dir if isinstance(socket_dir, str) else "localhost")
    return f"{host}:{url.port or 5432}/{url.database or url.username or ''}"
