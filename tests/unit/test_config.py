"""Settings come from the environment, with the seed's names and useful errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from booking_service.adapters.database import SessionLimits
from booking_service.config import ConfigError, Settings


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert (settings.grpc_port, settings.http_port, settings.events_topic) == (50051, 8002, "booking.events")
    assert settings.sandbox_port == 8003  # the seed's, where README's sandbox examples look
    assert Settings.from_env({"SANDBOX_PORT": "0"}).sandbox_port == 0
    assert settings.idempotency_key_ttl == timedelta(hours=24)


def test_the_seed_names_are_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:p@db:5432/bookings",
            "INVENTORY_SERVICE_URL": "http://inventory:8003",
            "PRICING_SERVICE_URL": "http://pricing:8004",
            "PAYMENT_SERVICE_URL": "http://payment:8005",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "GRPC_PORT": "6000",
            "HTTP_PORT": "6001",
            "BOOKING_DATA_DIR": "/srv/booking",
            "BOOKING_EVENTS_TOPIC": "bookings",
            "PENDING_TIMEOUT_SECONDS": "600",
        }
    )
    assert settings.database_url == "postgresql://u:p@db:5432/bookings"
    assert settings.inventory_service_url == "http://inventory:8003"
    assert (settings.grpc_port, settings.http_port) == (6000, 6001)
    assert settings.data_dir == Path("/srv/booking")
    assert settings.events_topic == "bookings"
    assert settings.pending_timeout == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("name", "value"),
    [("GRPC_PORT", "http"), ("GRPC_PORT", "70000"), ("PENDING_TIMEOUT_SECONDS", "-1"), ("LOG_FORMAT", "xml")],
)
def test_bad_values_say_what_is_wrong(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_the_peer_limits_are_read() -> None:
    defaults = Settings.from_env({})
    assert (defaults.peer_max_response_bytes, defaults.peer_keepalive) == (1 << 20, timedelta(seconds=4))
    settings = Settings.from_env({"PEER_MAX_RESPONSE_BYTES": "65536", "PEER_KEEPALIVE_SECONDS": "2.5"})
    assert (settings.peer_max_response_bytes, settings.peer_keepalive) == (65536, timedelta(seconds=2.5))
    with pytest.raises(ConfigError, match="PEER_MAX_RESPONSE_BYTES"):
        Settings.from_env({"PEER_MAX_RESPONSE_BYTES": "10"})


def test_a_database_url_of_another_scheme_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL must be a postgresql:// URL, not mysql"):
        Settings.from_env({"DATABASE_URL": "mysql://db/bookings"}).check()


def test_tls_files_that_are_no_certificates_are_refused_by_name(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE are not a PEM"):
        Settings.from_env({"GRPC_TLS_CERT_FILE": str(junk), "GRPC_TLS_KEY_FILE": str(junk)}).check()


POOLER = {
    "DATABASE_URL": "postgresql://booking@pgbouncer:6432/bookings",
    "DATABASE_SESSION_URL": "postgresql://booking@db:5432/bookings",
    "DB_TRANSACTION_POOLING": "true",
}


def test_behind_a_transaction_pooler_the_session_work_goes_to_the_session_url() -> None:
    settings = Settings.from_env(POOLER)
    settings.check()
    assert settings.db_transaction_pooling
    assert settings.session_url(POOLER["DATABASE_URL"]) == POOLER["DATABASE_SESSION_URL"]
    direct = Settings.from_env({"DATABASE_URL": POOLER["DATABASE_URL"]})
    assert not direct.db_transaction_pooling
    assert direct.session_url("postgresql://db/x") == "postgresql://db/x"


def test_transaction_pooling_without_a_session_url_is_refused_by_name() -> None:
    """serve (check()) and migrate and the operator commands (session_url()) refuse alike."""
    settings = Settings.from_env({**POOLER, "DATABASE_SESSION_URL": ""})
    expected = (
        r"^DB_TRANSACTION_POOLING=true needs DATABASE_SESSION_URL \(PostgreSQL directly, or a session-mode"
    )
    with pytest.raises(ConfigError, match=expected):
        settings.check()
    with pytest.raises(ConfigError, match=expected):
        settings.session_url(POOLER["DATABASE_URL"])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DB_TRANSACTION_POOLING": "true"}, "DB_TRANSACTION_POOLING needs DATABASE_URL"),
        ({"DATABASE_SESSION_URL": "postgresql://db/x"}, "DATABASE_SESSION_URL needs DATABASE_URL"),
        (
            {**POOLER, "DATABASE_SESSION_URL": "mysql://db/x"},
            "DATABASE_SESSION_URL must be a postgresql:// URL",
        ),
        ({"DB_TRANSACTION_POOLING": "maybe"}, "DB_TRANSACTION_POOLING must be true or false"),
    ],
)
def test_the_pooler_settings_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env).check()


def test_behind_a_pooler_the_limits_are_set_not_sent_at_startup() -> None:
    limits = SessionLimits(statement=7, lock=3, keepalive=9)
    assert limits.connect_args("relay", startup=False)["server_settings"] == {"application_name": "relay"}
    assert limits.connect_args("relay")["server_settings"]["statement_timeout"] == "7000"
    assert limits.per_transaction() == (
        "SET LOCAL statement_timeout = '7000'; SET LOCAL lock_timeout = '3000'; "
        "SET LOCAL idle_in_transaction_session_timeout = '60000'"
    )
    assert "SET tcp_keepalives_idle = '9'" in limits.per_session()
