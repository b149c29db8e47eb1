"""The async engine: asyncpg under SQLAlchemy, pooled, with bounded lock waits."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(database_url: str) -> URL:
    """The SQLAlchemy asyncpg URL for a libpq-style `postgresql://` URL (as DATABASE_URL gives)."""
    scheme = urlsplit(database_url).scheme
    if scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {scheme}://")
    url = make_url(database_url)
    return url.set(drivername="postgresql+asyncpg")


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_seconds: float = 5.0,
    lock_timeout_ms: int = 5000,
) -> AsyncEngine:
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        hide_parameters=True,  # errors would quote the statement's values: guest email and phone
        connect_args={
            "server_settings": {
                "application_name": "booking-service",
                # A request waiting for another's row or key gives up (ABORTED, retry) instead of hanging.
                "lock_timeout": str(lock_timeout_ms),
                "idle_in_transaction_session_timeout": "60000",
            },
        },
    )
