"""Settings come from the environment, with the seed's names and useful errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from booking_service.config import ConfigError, Settings


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert (settings.grpc_port, settings.http_port, settings.events_topic) == (50051, 8002, "booking.events")
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
