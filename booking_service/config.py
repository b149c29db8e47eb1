"""Configuration: every setting, read from environment variables in this one place.

The names follow the seed (DATABASE_URL, INVENTORY_SERVICE_URL, PRICING_SERVICE_URL,
PAYMENT_SERVICE_URL, KAFKA_BOOTSTRAP_SERVERS) and DESIGN.md (GRPC_PORT, HTTP_PORT, BOOKING_DATA_DIR,
BOOKING_EVENTS_TOPIC). Unset means the embedded default: an embedded PostgreSQL in the data directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import platformdirs

#: Signs page tokens when PAGE_TOKEN_SECRET is unset; fine for one developer, not for production.
DEV_PAGE_TOKEN_SECRET = "booking-service-development-page-token-secret"


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("booking-service")))
    bind_host: str = "localhost"
    grpc_port: int = 50051
    http_port: int = 8002
    inventory_service_url: str | None = None
    pricing_service_url: str | None = None
    payment_service_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    events_topic: str = "booking.events"
    events_delivery_timeout: timedelta = timedelta(seconds=30)
    outbox_retention: timedelta = timedelta(days=7)
    sweep_interval: timedelta = timedelta(seconds=30)
    peer_timeout: timedelta = timedelta(seconds=2)
    peer_retries: int = 2
    peer_failures_to_open: int = 5
    peer_open_interval: timedelta = timedelta(seconds=5)
    saga_lease: timedelta = timedelta(seconds=60)
    recovery_interval: timedelta = timedelta(seconds=5)
    pending_timeout: timedelta = timedelta(minutes=15)
    no_show_grace: timedelta = timedelta(minutes=30)
    idempotency_key_ttl: timedelta = timedelta(hours=24)
    page_token_secret: str = DEV_PAGE_TOKEN_SECRET
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_lock_timeout: timedelta = timedelta(seconds=5)
    shutdown_grace: timedelta = timedelta(seconds=10)
    log_level: str = "INFO"
    log_format: str = "json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        defaults = cls()
        return cls(
            database_url=reader.text("DATABASE_URL"),
            data_dir=Path(reader.text("BOOKING_DATA_DIR") or defaults.data_dir),
            bind_host=reader.text("BIND_HOST") or defaults.bind_host,
            grpc_port=reader.port("GRPC_PORT", defaults.grpc_port),
            http_port=reader.port("HTTP_PORT", defaults.http_port),
            inventory_service_url=reader.text("INVENTORY_SERVICE_URL"),
            pricing_service_url=reader.text("PRICING_SERVICE_URL"),
            payment_service_url=reader.text("PAYMENT_SERVICE_URL"),
            kafka_bootstrap_servers=reader.text("KAFKA_BOOTSTRAP_SERVERS"),
            events_topic=reader.text("BOOKING_EVENTS_TOPIC") or defaults.events_topic,
            events_delivery_timeout=reader.seconds(
                "EVENTS_DELIVERY_TIMEOUT_SECONDS", defaults.events_delivery_timeout
            ),
            outbox_retention=reader.seconds("OUTBOX_RETENTION_SECONDS", defaults.outbox_retention),
            sweep_interval=reader.seconds("SWEEP_INTERVAL_SECONDS", defaults.sweep_interval),
            peer_timeout=reader.seconds("PEER_TIMEOUT_SECONDS", defaults.peer_timeout),
            peer_retries=reader.integer("PEER_RETRIES", defaults.peer_retries, minimum=0, maximum=10),
            peer_failures_to_open=reader.integer(
                "PEER_FAILURES_TO_OPEN", defaults.peer_failures_to_open, minimum=1
            ),
            peer_open_interval=reader.seconds("PEER_OPEN_SECONDS", defaults.peer_open_interval),
            saga_lease=reader.seconds("SAGA_LEASE_SECONDS", defaults.saga_lease),
            recovery_interval=reader.seconds("RECOVERY_INTERVAL_SECONDS", defaults.recovery_interval),
            pending_timeout=reader.seconds("PENDING_TIMEOUT_SECONDS", defaults.pending_timeout),
            no_show_grace=reader.seconds("NO_SHOW_GRACE_SECONDS", defaults.no_show_grace),
            idempotency_key_ttl=reader.seconds("IDEMPOTENCY_KEY_TTL_SECONDS", defaults.idempotency_key_ttl),
            page_token_secret=reader.text("PAGE_TOKEN_SECRET") or defaults.page_token_secret,
            db_pool_size=reader.integer("DB_POOL_SIZE", defaults.db_pool_size, minimum=1),
            db_max_overflow=reader.integer("DB_MAX_OVERFLOW", defaults.db_max_overflow, minimum=0),
            db_lock_timeout=reader.seconds("DB_LOCK_TIMEOUT_SECONDS", defaults.db_lock_timeout),
            shutdown_grace=reader.seconds("SHUTDOWN_GRACE_SECONDS", defaults.shutdown_grace),
            log_level=(reader.text("LOG_LEVEL") or defaults.log_level).upper(),
            log_format=reader.choice("LOG_FORMAT", ("json", "text"), defaults.log_format),
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ConfigError(f"{name} must be between {minimum} and {maximum or 'any'}, not {value}")
        return value

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, minimum=0, maximum=65535)

    def seconds(self, name: str, default: timedelta) -> timedelta:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
        if value <= 0:
            raise ConfigError(f"{name} must be positive, not {raw}")
        return timedelta(seconds=value)

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        raw = (self.text(name) or default).lower()
        if raw not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
        return raw
