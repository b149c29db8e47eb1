"""The async engine: asyncpg under SQLAlchemy, pooled; and the limits every database session of this
service keeps (the pool's, the outbox relay's), so that no connection waits without bound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: The schemes DATABASE_URL may have (libpq's, and SQLAlchemy's name for this driver).
SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def async_url(database_url: str) -> URL:
    """The SQLAlchemy asyncpg URL for a libpq-style `postgresql://` URL (as DATABASE_URL gives)."""
    scheme = urlsplit(database_url).scheme
    if scheme not in SCHEMES:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {scheme or 'no scheme'}")
    url = make_url(database_url)
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

    def connect_args(self, application: str = "booking-service") -> dict[str, Any]:
        """asyncpg.connect's keyword arguments (SQLAlchemy's connect_args, or the relay's own)."""
        interval = max(1, self.keepalive // 3)
        return {
            "timeout": self.connect,
            "command_timeout": self.statement + 5,
            "server_settings": {
                "application_name": application,
                "statement_timeout": str(int(self.statement * 1000)),
                "lock_timeout": str(int(self.lock * 1000)),
                "idle_in_transaction_session_timeout": "60000",
                "tcp_keepalives_idle": str(self.keepalive),
                "tcp_keepalives_interval": str(interval),
                "tcp_keepalives_count": "3",
            },
        }


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_seconds: float = 5.0,
    limits: SessionLimits | None = None,
) -> AsyncEngine:
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        hide_parameters=True,  # errors would quote the statement's values: guest email and phone
        connect_args=(limits or SessionLimits()).connect_args(),
    )
