"""Configuration: every setting, read from environment variables in this one place.

The names follow the seed (DATABASE_URL, INVENTORY_SERVICE_URL, PRICING_SERVICE_URL,
PAYMENT_SERVICE_URL, KAFKA_BOOTSTRAP_SERVERS, RABBITMQ_URL) and DESIGN.md (GRPC_PORT, HTTP_PORT,
BOOKING_DATA_DIR, BOOKING_EVENTS_TOPIC, EVENTS_BROKER). Unset means the embedded default: an
embedded PostgreSQL in the data directory.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import platformdirs

from booking_service.adapters.database import async_url
from booking_service.adapters.kafka.security import KafkaSecurity
from booking_service.domain.events import GuestContact
from booking_service.domain.limits import MAX_BUFFER, BookingLimits
from booking_service.domain.validation import is_time_zone

#: Signs page tokens when PAGE_TOKEN_SECRET is unset; fine for one developer, not for production.
DEV_PAGE_TOKEN_SECRET = "booking-service-development-page-token-secret"
#: The shortest PAGE_TOKEN_SECRET production takes (entrypoints/deployment.py): a shorter one can be guessed.
MIN_PAGE_TOKEN_SECRET_LENGTH = 32
#: The most processes WORKERS (and `serve --workers`) may ask for.
MAX_WORKERS = 64
#: The oldest inventory answer a slot search may be allowed to use (SLOT_SEARCH_CACHE_SECONDS).
MAX_SLOT_SEARCH_CACHE_SECONDS = 300
#: The levels LOG_LEVEL takes, and the other names logging gives two of them.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The brokers EVENTS_BROKER names: the outbox relay publishes to one of them.
EVENTS_BROKERS = ("kafka", "rabbitmq")
RABBITMQ_URL_EXAMPLE = "amqp://booking:secret@rabbitmq:5672/bookings"
_LOG_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}

T = TypeVar("T")


#: The setting behind each booking limit (domain/limits.py), named in refusals. A later per-venue
#: policy (DESIGN.md's VenuePolicy: min_notice, max_advance, min/max_party_size, min/max_duration)
#: takes these as its defaults.
LIMIT_SETTINGS: Mapping[str, str] = {
    "min_notice": "BOOKING_MIN_NOTICE_SECONDS",
    "max_advance": "BOOKING_MAX_ADVANCE_DAYS",
    "min_duration": "BOOKING_MIN_DURATION_SECONDS",
    "max_duration": "BOOKING_MAX_DURATION_DAYS",
    "min_party_size": "BOOKING_MIN_PARTY_SIZE",
    "max_party_size": "BOOKING_MAX_PARTY_SIZE",
    "buffer_before": "BOOKING_BUFFER_BEFORE_SECONDS",
    "buffer_after": "BOOKING_BUFFER_AFTER_SECONDS",
}


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None = None
    #: Where the sessions that must stay one server session go (the relay, the migrations);
    #: unset: DATABASE_URL (session_url()).
    database_session_url: str | None = None
    #: DATABASE_URL is a pooler in transaction mode (adapters/database.py).
    db_transaction_pooling: bool = False
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("booking-service")))
    bind_host: str = "localhost"
    grpc_port: int = 50051
    http_port: int = 8002
    #: The in-process sandbox peers' port when a peer URL is unset (the seed's 8003; 0: any free one).
    sandbox_port: int = 8003
    inventory_service_url: str | None = None
    pricing_service_url: str | None = None
    payment_service_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    #: Where the outbox relay publishes (EVENTS_BROKER): Kafka, or RabbitMQ at RABBITMQ_URL.
    events_broker: str = "kafka"
    rabbitmq_url: str | None = None
    #: The Kafka topic, or the RabbitMQ topic exchange (BOOKING_EVENTS_TOPIC).
    events_topic: str = "booking.events"
    #: Whether events carry the guest's email and phone (EVENTS_GUEST_CONTACT); by default they
    #: carry the guest's id and name only.
    events_guest_contact: GuestContact = GuestContact.OMIT
    events_delivery_timeout: timedelta = timedelta(seconds=30)
    outbox_retention: timedelta = timedelta(days=7)
    # WatchBookings (service_layer/watch.py): a heartbeat after this long idle, the changes one
    # stream may have waiting before it is dropped as too slow, and the open streams per process.
    watch_keepalive: timedelta = timedelta(seconds=15)
    watch_buffer_events: int = 256
    watch_max_streams: int = 256
    sweep_interval: timedelta = timedelta(seconds=30)
    peer_timeout: timedelta = timedelta(seconds=2)
    peer_retries: int = 2
    peer_failures_to_open: int = 5
    peer_open_interval: timedelta = timedelta(seconds=5)
    #: The largest answer body read from a peer; a larger one is a permanent peer error.
    peer_max_response_bytes: int = 1 << 20
    #: How long an idle keep-alive connection to a peer stays pooled (below uvicorn's 5 s).
    peer_keepalive: timedelta = timedelta(seconds=4)
    saga_lease: timedelta = timedelta(seconds=60)
    saga_max_attempts: int = 12
    recovery_interval: timedelta = timedelta(seconds=5)
    pending_timeout: timedelta = timedelta(minutes=15)
    no_show_grace: timedelta = timedelta(minutes=30)
    idempotency_key_ttl: timedelta = timedelta(hours=24)
    #: What a booking may be: the BOOKING_* settings (LIMIT_SETTINGS), named in every refusal.
    booking_limits: BookingLimits = field(default_factory=lambda: BookingLimits(sources=LIMIT_SETTINGS))
    #: The IANA zone of a venue that a create names no zone for and that has no recorded zone yet
    #: (service_layer/venue_zone.py).
    default_venue_time_zone: str = "UTC"
    page_token_secret: str = DEV_PAGE_TOKEN_SECRET
    #: How many inventory checks one SearchAvailableSlots runs at a time (one per candidate slot).
    slot_search_concurrency: int = 16
    #: The oldest inventory answer SearchAvailableSlots may use (refreshed from half that age);
    #: 0: every search asks the inventory (service_layer/search_inventory.py).
    slot_search_cache: timedelta = timedelta(seconds=5)
    # Measured with bench/run.py under SQLAlchemy's pool: connections beyond the pool ("overflow")
    # were closed when given back, so under sustained load above the pool size every call paid a
    # new connection (10 + 10 halved REST reads at 64 in flight, the service idling while it
    # connected). A pool of 20 and no overflow kept the service CPU-bound; a call waits up to
    # DB_POOL_TIMEOUT_SECONDS instead. The pool is asyncpg's now (adapters/connections.py: at most
    # size + overflow, an overflowing pool closes connections unused for 60 s).
    db_pool_size: int = 20
    db_max_overflow: int = 0
    db_lock_timeout: timedelta = timedelta(seconds=5)
    db_connect_timeout: timedelta = timedelta(seconds=5)
    db_statement_timeout: timedelta = timedelta(seconds=30)
    db_keepalive: timedelta = timedelta(seconds=10)
    #: Whether `serve` applies the migrations at start (else it checks they were: migrations.py).
    migrate_on_start: bool = True
    #: gRPC connections are closed (gracefully: GOAWAY) after this long, so that clients behind an
    #: L4 balancer spread over new replicas; 0: never.
    grpc_max_connection_age: timedelta = timedelta(0)
    #: The whole stop after SIGTERM, within a container's stop timeout (Docker's: 10 s).
    shutdown_grace: timedelta = timedelta(seconds=8)
    workers: int = 1
    log_level: str = "INFO"
    log_format: str = "json"
    # Transport security and callers (README "Running in production").
    grpc_tls_cert_file: Path | None = None
    grpc_tls_key_file: Path | None = None
    grpc_client_ca_file: Path | None = None
    # `booking-service health` (the image's HEALTHCHECK): its CA, and its certificate under mTLS.
    health_ca_file: Path | None = None
    health_client_cert_file: Path | None = None
    health_client_key_file: Path | None = None
    # Bearer tokens (entrypoints/auth/): their signing keys come from PEM files or from the identity
    # provider's JWKS (one or the other), and the rules every token meets.
    auth_jwt_public_key_files: tuple[Path, ...] = ()
    auth_jwks_url: str | None = None
    auth_jwks_refresh: timedelta = timedelta(seconds=300)
    auth_jwt_issuer: str | None = None
    auth_jwt_audience: str | None = None
    auth_jwt_leeway: timedelta = timedelta(seconds=30)
    #: The furthest a token's `exp` may lie ahead of now (beyond the leeway).
    auth_jwt_max_lifetime: timedelta = timedelta(seconds=86400)
    #: The `typ` every token's header must carry (`at+jwt`, RFC 9068); None: any.
    auth_jwt_type: str | None = None
    auth_allow_open: bool = False
    auth_public_reflection: bool = False
    auth_public_metrics: bool = False
    #: Failed authentications per client address: a burst, then this many a second (0: no limit).
    auth_failures_per_second: float = 1.0
    auth_failure_burst: int = 20
    # Limits.
    max_request_bytes: int = 1 << 20
    default_deadline: timedelta = timedelta(seconds=30)
    rate_limit_per_second: float = 1000.0
    rate_limit_burst: int = 2000
    max_concurrent_calls: int = 512
    max_connections: int = 1024
    # REST connections (entrypoints/http_limits.py): a whole request head within the timeout, of at
    # most this size, and at most this many connections from one client address (0: no cap).
    http_header_timeout: timedelta = timedelta(seconds=10)
    http_body_timeout: timedelta = timedelta(seconds=30)
    readiness_interval: timedelta = timedelta(seconds=2)
    readiness_timeout: timedelta = timedelta(seconds=1)
    http_max_header_bytes: int = 64 * 1024
    max_connections_per_address: int = 128
    db_pool_timeout: timedelta = timedelta(seconds=5)
    # Tracing (OpenTelemetry's own variable names).
    otel_traces_exporter: str = "none"
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "booking-service"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        defaults = cls()
        settings = cls(
            database_url=reader.database_url("DATABASE_URL"),
            database_session_url=reader.database_url("DATABASE_SESSION_URL"),
            db_transaction_pooling=reader.flag("DB_TRANSACTION_POOLING", defaults.db_transaction_pooling),
            data_dir=Path(reader.text("BOOKING_DATA_DIR") or defaults.data_dir),
            bind_host=reader.text("BIND_HOST") or defaults.bind_host,
            grpc_port=reader.port("GRPC_PORT", defaults.grpc_port),
            http_port=reader.port("HTTP_PORT", defaults.http_port),
            sandbox_port=reader.port("SANDBOX_PORT", defaults.sandbox_port),
            inventory_service_url=reader.url("INVENTORY_SERVICE_URL", "http://inventory:8003"),
            pricing_service_url=reader.url("PRICING_SERVICE_URL", "http://pricing:8003"),
            payment_service_url=reader.url("PAYMENT_SERVICE_URL", "http://payment:8003"),
            kafka_bootstrap_servers=reader.bootstrap_servers("KAFKA_BOOTSTRAP_SERVERS"),
            kafka_security=_kafka_security(reader),
            events_broker=reader.choice("EVENTS_BROKER", EVENTS_BROKERS, defaults.events_broker),
            rabbitmq_url=reader.amqp_url("RABBITMQ_URL"),
            events_topic=reader.text("BOOKING_EVENTS_TOPIC") or defaults.events_topic,
            events_guest_contact=GuestContact(
                reader.choice(
                    "EVENTS_GUEST_CONTACT", tuple(GuestContact), defaults.events_guest_contact.value
                )
            ),
            events_delivery_timeout=reader.seconds(
                "EVENTS_DELIVERY_TIMEOUT_SECONDS", defaults.events_delivery_timeout
            ),
            outbox_retention=reader.seconds("OUTBOX_RETENTION_SECONDS", defaults.outbox_retention),
            watch_keepalive=reader.seconds("WATCH_KEEPALIVE_SECONDS", defaults.watch_keepalive),
            watch_buffer_events=reader.integer(
                "WATCH_BUFFER_EVENTS", defaults.watch_buffer_events, minimum=1, maximum=100_000
            ),
            watch_max_streams=reader.integer("WATCH_MAX_STREAMS", defaults.watch_max_streams, minimum=1),
            sweep_interval=reader.seconds("SWEEP_INTERVAL_SECONDS", defaults.sweep_interval),
            peer_timeout=reader.seconds("PEER_TIMEOUT_SECONDS", defaults.peer_timeout),
            peer_retries=reader.integer("PEER_RETRIES", defaults.peer_retries, minimum=0, maximum=10),
            peer_failures_to_open=reader.integer(
                "PEER_FAILURES_TO_OPEN", defaults.peer_failures_to_open, minimum=1
            ),
            peer_open_interval=reader.seconds("PEER_OPEN_SECONDS", defaults.peer_open_interval),
            peer_max_response_bytes=reader.integer(
                "PEER_MAX_RESPONSE_BYTES", defaults.peer_max_response_bytes, minimum=1024
            ),
            peer_keepalive=reader.seconds("PEER_KEEPALIVE_SECONDS", defaults.peer_keepalive),
            saga_lease=reader.seconds("SAGA_LEASE_SECONDS", defaults.saga_lease),
            saga_max_attempts=reader.integer("SAGA_MAX_ATTEMPTS", defaults.saga_max_attempts, minimum=1),
            recovery_interval=reader.seconds("RECOVERY_INTERVAL_SECONDS", defaults.recovery_interval),
            pending_timeout=reader.seconds("PENDING_TIMEOUT_SECONDS", defaults.pending_timeout),
            no_show_grace=reader.seconds("NO_SHOW_GRACE_SECONDS", defaults.no_show_grace),
            idempotency_key_ttl=reader.seconds("IDEMPOTENCY_KEY_TTL_SECONDS", defaults.idempotency_key_ttl),
            booking_limits=_booking_limits(reader),
            default_venue_time_zone=reader.time_zone(
                "DEFAULT_VENUE_TIME_ZONE", defaults.default_venue_time_zone
            ),
            page_token_secret=reader.text("PAGE_TOKEN_SECRET") or defaults.page_token_secret,
            slot_search_concurrency=reader.integer(
                "SLOT_SEARCH_CONCURRENCY", defaults.slot_search_concurrency, minimum=1, maximum=256
            ),
            slot_search_cache=timedelta(
                seconds=reader.integer(
                    "SLOT_SEARCH_CACHE_SECONDS",
                    int(defaults.slot_search_cache.total_seconds()),
                    minimum=0,
                    maximum=MAX_SLOT_SEARCH_CACHE_SECONDS,
                )
            ),
            db_pool_size=reader.integer("DB_POOL_SIZE", defaults.db_pool_size, minimum=1),
            db_max_overflow=reader.integer("DB_MAX_OVERFLOW", defaults.db_max_overflow, minimum=0),
            db_lock_timeout=reader.seconds("DB_LOCK_TIMEOUT_SECONDS", defaults.db_lock_timeout),
            db_connect_timeout=reader.seconds("DB_CONNECT_TIMEOUT_SECONDS", defaults.db_connect_timeout),
            db_statement_timeout=reader.seconds(
                "DB_STATEMENT_TIMEOUT_SECONDS", defaults.db_statement_timeout
            ),
            db_keepalive=reader.seconds("DB_KEEPALIVE_SECONDS", defaults.db_keepalive),
            migrate_on_start=reader.flag("MIGRATE_ON_START", defaults.migrate_on_start),
            grpc_max_connection_age=reader.seconds(
                "GRPC_MAX_CONNECTION_AGE_SECONDS", defaults.grpc_max_connection_age
            ),
            shutdown_grace=reader.seconds("SHUTDOWN_GRACE_SECONDS", defaults.shutdown_grace),
            workers=reader.workers("WORKERS", defaults.workers),
            log_level=reader.choice("LOG_LEVEL", LOG_LEVELS, defaults.log_level, normalize=_log_level),
            log_format=reader.choice("LOG_FORMAT", ("json", "text"), defaults.log_format),
            grpc_tls_cert_file=reader.path("GRPC_TLS_CERT_FILE"),
            grpc_tls_key_file=reader.path("GRPC_TLS_KEY_FILE"),
            grpc_client_ca_file=reader.path("GRPC_CLIENT_CA_FILE"),
            health_ca_file=reader.path("HEALTH_CA_FILE"),
            health_client_cert_file=reader.path("HEALTH_CLIENT_CERT_FILE"),
            health_client_key_file=reader.path("HEALTH_CLIENT_KEY_FILE"),
            auth_jwt_public_key_files=reader.paths("AUTH_JWT_PUBLIC_KEY_FILE"),
            auth_jwks_url=reader.url(
                "AUTH_JWKS_URL", "https://idp.example/.well-known/jwks.json", https_unless_loopback=True
            ),
            auth_jwks_refresh=reader.seconds("AUTH_JWKS_REFRESH_SECONDS", defaults.auth_jwks_refresh),
            auth_jwt_issuer=reader.text("AUTH_JWT_ISSUER"),
            auth_jwt_audience=reader.text("AUTH_JWT_AUDIENCE"),
            auth_jwt_leeway=reader.seconds("AUTH_JWT_LEEWAY_SECONDS", defaults.auth_jwt_leeway),
            auth_jwt_max_lifetime=reader.seconds(
                "AUTH_JWT_MAX_LIFETIME_SECONDS", defaults.auth_jwt_max_lifetime
            ),
            auth_jwt_type=reader.text("AUTH_JWT_TYPE"),
            auth_allow_open=reader.flag("AUTH_ALLOW_OPEN", defaults.auth_allow_open),
            auth_public_reflection=reader.flag("AUTH_PUBLIC_REFLECTION", defaults.auth_public_reflection),
            auth_public_metrics=reader.flag("AUTH_PUBLIC_METRICS", defaults.auth_public_metrics),
            auth_failures_per_second=reader.number(
                "AUTH_FAILURES_PER_SECOND", defaults.auth_failures_per_second
            ),
            auth_failure_burst=reader.integer("AUTH_FAILURE_BURST", defaults.auth_failure_burst, minimum=1),
            max_request_bytes=reader.integer(
                "MAX_REQUEST_BYTES", defaults.max_request_bytes, minimum=1024, maximum=64 << 20
            ),
            default_deadline=reader.seconds("DEFAULT_DEADLINE_SECONDS", defaults.default_deadline),
            rate_limit_per_second=reader.number("RATE_LIMIT_PER_SECOND", defaults.rate_limit_per_second),
            rate_limit_burst=reader.integer("RATE_LIMIT_BURST", defaults.rate_limit_burst, minimum=1),
            max_concurrent_calls=reader.integer(
                "MAX_CONCURRENT_CALLS", defaults.max_concurrent_calls, minimum=1
            ),
            max_connections=reader.integer("MAX_CONNECTIONS", defaults.max_connections, minimum=1),
            http_header_timeout=reader.seconds("HTTP_HEADER_TIMEOUT_SECONDS", defaults.http_header_timeout),
            http_body_timeout=reader.seconds("HTTP_BODY_TIMEOUT_SECONDS", defaults.http_body_timeout),
            readiness_interval=reader.seconds("READINESS_INTERVAL_SECONDS", defaults.readiness_interval),
            readiness_timeout=reader.seconds("READINESS_TIMEOUT_SECONDS", defaults.readiness_timeout),
            http_max_header_bytes=reader.integer(
                "HTTP_MAX_HEADER_BYTES", defaults.http_max_header_bytes, minimum=1024, maximum=1 << 20
            ),
            max_connections_per_address=reader.integer(
                "MAX_CONNECTIONS_PER_ADDRESS", defaults.max_connections_per_address, minimum=0
            ),
            db_pool_timeout=reader.seconds("DB_POOL_TIMEOUT_SECONDS", defaults.db_pool_timeout),
            otel_traces_exporter=_traces_exporter(reader),
            otel_exporter_otlp_endpoint=reader.url("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            otel_service_name=reader.text("OTEL_SERVICE_NAME") or defaults.otel_service_name,
        )
        settings.check_events_broker()
        return settings

    @property
    def tls(self) -> bool:
        return self.grpc_tls_cert_file is not None

    @property
    def bearer_tokens(self) -> bool:
        """Whether calls need a bearer token: signing keys are configured (PEM files or a JWKS)."""
        return bool(self.auth_jwt_public_key_files) or self.auth_jwks_url is not None

    @property
    def authenticates(self) -> bool:
        """Whether callers must prove who they are (a token, or a client certificate)."""
        return self.bearer_tokens or self.grpc_client_ca_file is not None

    @property
    def rabbitmq(self) -> bool:
        """Whether events go to RabbitMQ (EVENTS_BROKER=rabbitmq), not Kafka."""
        return self.events_broker == "rabbitmq"

    def check_events_broker(self) -> None:
        """One broker, fully named: RabbitMQ needs its URL (there is no embedded RabbitMQ), and the
        other broker's address is refused rather than ignored (events would not go where it says)."""
        if self.rabbitmq and not self.rabbitmq_url:
            raise ConfigError(
                f"EVENTS_BROKER=rabbitmq needs RABBITMQ_URL, such as {RABBITMQ_URL_EXAMPLE} (there is "
                "no embedded RabbitMQ)"
            )
        if self.rabbitmq and self.kafka_bootstrap_servers:
            raise ConfigError(
                "KAFKA_BOOTSTRAP_SERVERS is set, but EVENTS_BROKER=rabbitmq publishes to RABBITMQ_URL: "
                "unset KAFKA_BOOTSTRAP_SERVERS, or set EVENTS_BROKER=kafka"
            )
        if not self.rabbitmq and self.rabbitmq_url:
            raise ConfigError(
                f"RABBITMQ_URL is set, but events go to Kafka (EVENTS_BROKER={self.events_broker}): set "
                "EVENTS_BROKER=rabbitmq to publish them to RabbitMQ, or unset RABBITMQ_URL"
            )

    def check(self) -> None:
        """Refuses combinations that cannot work, before anything starts."""
        self.check_events_broker()
        if (self.grpc_tls_cert_file is None) != (self.grpc_tls_key_file is None):
            raise ConfigError("GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE go together")
        if self.grpc_client_ca_file is not None and not self.tls:
            raise ConfigError("GRPC_CLIENT_CA_FILE needs GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE")
        self._check_token_keys()
        for path in (
            self.grpc_tls_cert_file,
            self.grpc_tls_key_file,
            self.grpc_client_ca_file,
            *self.auth_jwt_public_key_files,
        ):
            if path is not None and not path.is_file():
                raise ConfigError(f"{path} does not exist or is not a file")
        if problems := self.kafka_security.problems():
            raise ConfigError("; ".join(problems))
        self._check_database()
        self._check_tls_files()

    def session_url(self, database_url: str) -> str:
        """The URL of the sessions that must stay one PostgreSQL session from start to end: the
        outbox relay's (its partitions' advisory locks, LISTEN), the migrations' (an advisory lock
        across their transactions) and the schema check's. DATABASE_SESSION_URL, else `database_url`
        (the database serve runs on: DATABASE_URL, or the embedded one's); ConfigError when
        DB_TRANSACTION_POOLING is on without DATABASE_SESSION_URL."""
        self._check_database()
        return self.database_session_url or database_url

    def _check_database(self) -> None:
        """The URLs' schemes (the one rule for them: adapters/database.py), and a session URL
        wherever DATABASE_URL is a transaction pooler, whose sessions are not ours to keep."""
        _check_database_url("DATABASE_URL", self.database_url)
        _check_database_url("DATABASE_SESSION_URL", self.database_session_url)
        if (self.db_transaction_pooling or self.database_session_url) and not self.database_url:
            given = "DB_TRANSACTION_POOLING" if self.db_transaction_pooling else "DATABASE_SESSION_URL"
            raise ConfigError(f"{given} needs DATABASE_URL (the embedded PostgreSQL has no pooler)")
        if self.db_transaction_pooling and not self.database_session_url:
            raise ConfigError(
                "DB_TRANSACTION_POOLING=true needs DATABASE_SESSION_URL (PostgreSQL directly, or a "
                "session-mode pool): the outbox relay's advisory locks and LISTEN, and the migrations' "
                "lock, would otherwise be taken on server sessions the pooler hands to other clients"
            )

    def _check_tls_files(self) -> None:
        """The TLS files hold what they are named for (a certificate and its key, a CA), so that a
        wrong file is refused at start by name, not by a crash of the server that loads it."""
        try:
            if self.grpc_tls_cert_file is not None and self.grpc_tls_key_file is not None:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                    self.grpc_tls_cert_file, self.grpc_tls_key_file
                )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE are not a PEM certificate and its key: {exc}"
            ) from None
        try:
            if self.grpc_client_ca_file is not None:
                ssl.create_default_context().load_verify_locations(cafile=self.grpc_client_ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"GRPC_CLIENT_CA_FILE is not a PEM certificate: {exc}") from None

    def _check_token_keys(self) -> None:
        """One source of signing keys, with the issuer and audience every token is checked against;
        a JWKS over https (plain http only to this machine: whoever can change the JWKS on its way
        can sign tokens)."""
        if self.auth_jwks_url is not None and self.auth_jwt_public_key_files:
            raise ConfigError(
                "AUTH_JWKS_URL and AUTH_JWT_PUBLIC_KEY_FILE both give the token signing keys: set one"
            )
        source = "AUTH_JWKS_URL" if self.auth_jwks_url is not None else "AUTH_JWT_PUBLIC_KEY_FILE"
        if self.bearer_tokens and not (self.auth_jwt_issuer and self.auth_jwt_audience):
            raise ConfigError(f"{source} needs AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE")
        if self.auth_jwks_url is not None and not is_http_url(self.auth_jwks_url, https_unless_loopback=True):
            raise ConfigError(
                _url_refusal("AUTH_JWKS_URL", self.auth_jwks_url, "", https_unless_loopback=True)
            )


_DAY = 86_400


def _booking_limits(reader: _Reader) -> BookingLimits:
    """The booking limits from their settings (whole seconds or days, people); limits that cannot
    hold together are refused in one line naming the settings."""
    defaults = BookingLimits()
    limits = BookingLimits(
        min_notice=timedelta(
            seconds=reader.integer(
                "BOOKING_MIN_NOTICE_SECONDS",
                int(defaults.min_notice.total_seconds()),
                minimum=-_DAY,
                maximum=365 * _DAY,
            )
        ),
        max_advance=timedelta(
            days=reader.integer(
                "BOOKING_MAX_ADVANCE_DAYS", defaults.max_advance.days, minimum=1, maximum=36_500
            )
        ),
        min_duration=timedelta(
            seconds=reader.integer(
                "BOOKING_MIN_DURATION_SECONDS", int(defaults.min_duration.total_seconds()), minimum=0
            )
        ),
        max_duration=timedelta(
            days=reader.integer(
                "BOOKING_MAX_DURATION_DAYS", defaults.max_duration.days, minimum=1, maximum=3_660
            )
        ),
        min_party_size=reader.integer("BOOKING_MIN_PARTY_SIZE", defaults.min_party_size, minimum=1),
        max_party_size=reader.integer(
            "BOOKING_MAX_PARTY_SIZE", defaults.max_party_size, minimum=1, maximum=1_000_000
        ),
        buffer_before=timedelta(
            seconds=reader.integer(
                "BOOKING_BUFFER_BEFORE_SECONDS", 0, minimum=0, maximum=int(MAX_BUFFER.total_seconds())
            )
        ),
        buffer_after=timedelta(
            seconds=reader.integer(
                "BOOKING_BUFFER_AFTER_SECONDS", 0, minimum=0, maximum=int(MAX_BUFFER.total_seconds())
            )
        ),
        sources=LIMIT_SETTINGS,
    )
    if problems := limits.problems():
        raise ConfigError("; ".join(problems))
    return limits


def _kafka_security(reader: _Reader) -> KafkaSecurity:
    password_file = reader.path("KAFKA_SASL_PASSWORD_FILE")
    password = reader.text("KAFKA_SASL_PASSWORD")
    if password_file is not None:
        if password is not None:
            raise ConfigError("KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE: set one of them")
        try:
            password = password_file.read_text().strip() or None
        except OSError as exc:
            raise ConfigError(
                f"KAFKA_SASL_PASSWORD_FILE={password_file} cannot be read: {exc.strerror}"
            ) from None
    mechanism = reader.text("KAFKA_SASL_MECHANISM")
    return KafkaSecurity(
        protocol=(reader.text("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper(),
        sasl_mechanism=mechanism.upper() if mechanism else None,
        sasl_username=reader.text("KAFKA_SASL_USERNAME"),
        sasl_password=password,
        ssl_ca_file=reader.path("KAFKA_SSL_CA_FILE"),
        ssl_cert_file=reader.path("KAFKA_SSL_CERT_FILE"),
        ssl_key_file=reader.path("KAFKA_SSL_KEY_FILE"),
        oauth_token_endpoint=reader.url(
            "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL", "https://idp.example/oauth2/token"
        ),
        oauth_client_id=reader.text("KAFKA_SASL_OAUTHBEARER_CLIENT_ID"),
        oauth_client_secret=reader.text("KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET"),
        oauth_scope=reader.text("KAFKA_SASL_OAUTHBEARER_SCOPE"),
    )


def is_loopback(host: str) -> bool:
    """Whether the address only this machine can reach: localhost, 127.0.0.0/8, ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_http_url(value: str, *, https_unless_loopback: bool = False) -> bool:
    """Whether `value` is an http or https URL naming a host (and a port, if any, that is one);
    https only, but for http to a loopback address, when `https_unless_loopback`."""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 (a port that is no number, or out of range, raises ValueError)
    except ValueError:
        return False
    host = url.hostname or ""
    if not host or any(c.isspace() for c in value):
        return False
    if https_unless_loopback:
        return url.scheme == "https" or (url.scheme == "http" and is_loopback(host))
    return url.scheme in ("http", "https")


def is_amqp_url(value: str) -> bool:
    """Whether `value` is an amqp:// or amqps:// URL naming a host (and a port, if any, that is one):
    `amqp://user:password@host:5672/vhost` (the vhost `/` is written `%2F`, or left out)."""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 (a port that is no number, or out of range, raises ValueError)
    except ValueError:
        return False
    return url.scheme in ("amqp", "amqps") and bool(url.hostname) and not any(c.isspace() for c in value)


def _url_refusal(name: str, value: str, example: str, *, https_unless_loopback: bool = False) -> str:
    if https_unless_loopback:
        return f"{name} must be an https URL (http only to a loopback address), not {_shown(value)!r}"
    return f"{name} must be an http:// or https:// URL with a host, such as {example}, not {_shown(value)!r}"


def _shown(url: str) -> str:
    """`url` as a refusal may print it: a password in it masked."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{host}").geturl()


#: One broker of a bootstrap list: librdkafka's `[PROTOCOL://]host[:port]` (IPv6 in brackets).
_BROKER = re.compile(
    r"(?:(?:PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?",
    re.IGNORECASE,
)


def is_bootstrap_servers(value: str) -> bool:
    """Whether `value` is a list of brokers separated by commas (`kafka-1:9092,kafka-2:9092`)."""
    for part in value.split(","):
        broker = _BROKER.fullmatch(part.strip())
        if broker is None or (broker[1] is not None and not 1 <= int(broker[1]) <= 65535):
            return False
    return True


def _log_level(raw: str) -> str:
    level = raw.upper()
    return _LOG_LEVEL_ALIASES.get(level, level)


def read_as(setting: str, text: str, read: Callable[[_Reader, str], T]) -> T:
    """`text` read as the setting `setting` would be (`read`: a _Reader method), by the same rule
    and with the same refusal (ConfigError): for a command-line flag that stands for a setting."""
    return read(_Reader({setting: text}), setting)


def _traces_exporter(reader: _Reader) -> str:
    """OTEL_TRACES_EXPORTER when set; otherwise OTLP when an endpoint is configured, else off."""
    default = "otlp" if reader.text("OTEL_EXPORTER_OTLP_ENDPOINT") else "none"
    return reader.choice("OTEL_TRACES_EXPORTER", ("none", "otlp", "console"), default)


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
        if maximum is None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, not {value}")
        if maximum is not None and not minimum <= value <= maximum:
            raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {value}")
        return value

    def workers(self, name: str, default: int) -> int:
        return self.integer(name, default, minimum=1, maximum=MAX_WORKERS)

    def number(self, name: str, default: float) -> float:
        value = self._float(name, "a number")
        if value is None:
            return default
        if value < 0:
            raise ConfigError(f"{name} must not be negative, not {self.text(name)}")
        return value

    def _float(self, name: str, what: str) -> float | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be {what}, not {raw!r}")
        return value

    def path(self, name: str) -> Path | None:
        raw = self.text(name)
        return Path(raw).expanduser() if raw else None

    def paths(self, name: str) -> tuple[Path, ...]:
        """Several paths, separated by commas."""
        raw = self.text(name) or ""
        return tuple(Path(part.strip()).expanduser() for part in raw.split(",") if part.strip())

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}")

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, minimum=0, maximum=65535)

    def seconds(self, name: str, default: timedelta) -> timedelta:
        value = self._float(name, "a number of seconds")
        if value is None:
            return default
        if value <= 0:
            raise ConfigError(f"{name} must be positive, not {self.text(name)}")
        return timedelta(seconds=value)

    def url(self, name: str, example: str, *, https_unless_loopback: bool = False) -> str | None:
        """An http(s) URL naming a host (is_http_url); `example` shows one in the refusal."""
        raw = self.text(name)
        if raw is not None and not is_http_url(raw, https_unless_loopback=https_unless_loopback):
            raise ConfigError(_url_refusal(name, raw, example, https_unless_loopback=https_unless_loopback))
        return raw

    def database_url(self, name: str) -> str | None:
        """A postgresql:// URL (the rule of adapters/database.py), refused here so that every
        command, not only serve's check(), refuses it by name."""
        raw = self.text(name)
        _check_database_url(name, raw)
        return raw

    def amqp_url(self, name: str) -> str | None:
        """An amqp:// or amqps:// URL naming a host (is_amqp_url)."""
        raw = self.text(name)
        if raw is not None and not is_amqp_url(raw):
            raise ConfigError(
                f"{name} must be an amqp:// or amqps:// URL with a host, such as {RABBITMQ_URL_EXAMPLE}, "
                f"not {_shown(raw)!r}"
            )
        return raw

    def bootstrap_servers(self, name: str) -> str | None:
        """Kafka brokers, `host:port` separated by commas (is_bootstrap_servers)."""
        raw = self.text(name)
        if raw is not None and not is_bootstrap_servers(raw):
            raise ConfigError(
                f"{name} must be host:port pairs separated by commas, such as kafka-1:9092,kafka-2:9092, "
                f"not {raw!r}"
            )
        return raw

    def time_zone(self, name: str, default: str) -> str:
        """An IANA time zone name (`Europe/Paris`, `UTC`): the rule of domain/validation.py."""
        raw = self.text(name)
        if raw is None:
            return default
        if not is_time_zone(raw):
            raise ConfigError(f"{name} must be an IANA time zone such as Europe/Paris or UTC, not {raw!r}")
        return raw

    def choice(
        self,
        name: str,
        allowed: tuple[str, ...],
        default: str,
        *,
        normalize: Callable[[str], str] = str.lower,
    ) -> str:
        raw = normalize(self.text(name) or default)
        if raw not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
        return raw


def _check_database_url(name: str, url: str | None) -> None:
    """ConfigError, naming `name`, unless `url` is unset or a postgresql:// URL (the one rule for
    it: adapters/database.async_url)."""
    try:
        if url:
            async_url(url, name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
