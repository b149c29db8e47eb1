"""Settings come from the environment, with the seed's names and useful errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from booking_service.adapters.database import SessionLimits
from booking_service.config import ConfigError, Settings
from booking_service.domain.events import GuestContact
from booking_service.entrypoints.cli import parser


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


def test_the_slot_search_cache_is_read_and_0_turns_it_off() -> None:
    assert Settings.from_env({}).slot_search_cache == timedelta(seconds=5)
    assert Settings.from_env({"SLOT_SEARCH_CACHE_SECONDS": "30"}).slot_search_cache == timedelta(seconds=30)
    assert Settings.from_env({"SLOT_SEARCH_CACHE_SECONDS": "0"}).slot_search_cache == timedelta(0)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"SLOT_SEARCH_CACHE_SECONDS": "0.5"})
    assert str(raised.value) == "SLOT_SEARCH_CACHE_SECONDS must be a whole number, not '0.5'"


def test_the_peer_limits_are_read() -> None:
    defaults = Settings.from_env({})
    assert (defaults.peer_max_response_bytes, defaults.peer_keepalive) == (1 << 20, timedelta(seconds=4))
    settings = Settings.from_env({"PEER_MAX_RESPONSE_BYTES": "65536", "PEER_KEEPALIVE_SECONDS": "2.5"})
    assert (settings.peer_max_response_bytes, settings.peer_keepalive) == (65536, timedelta(seconds=2.5))
    with pytest.raises(ConfigError, match="PEER_MAX_RESPONSE_BYTES"):
        Settings.from_env({"PEER_MAX_RESPONSE_BYTES": "10"})


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


PEER_URLS = ("INVENTORY_SERVICE_URL", "PRICING_SERVICE_URL", "PAYMENT_SERVICE_URL")
#: Every setting holding an http(s) URL, read by the one reader (config._Reader.url).
HTTP_URLS = (*PEER_URLS, "OTEL_EXPORTER_OTLP_ENDPOINT", "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL")


@pytest.mark.parametrize("name", HTTP_URLS)
@pytest.mark.parametrize(
    "value",
    [
        "notaurl",
        "ftp://x",
        "http://",
        "https:///v1",
        "inventory:8003",
        "http://inventory:notaport",
        "http://inventory:99999",
        "http://inven tory",
    ],
)
def test_a_url_setting_that_is_no_http_url_with_a_host_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    message = str(raised.value)
    assert message.startswith(f"{name} must be an http:// or https:// URL with a host, such as "), message
    assert message.endswith(f", not {value!r}"), message


@pytest.mark.parametrize(
    "value",
    ["http://inventory:8003", "https://pricing.internal/api", "http://10.0.0.7:8080", "http://[::1]:8003"],
)
def test_peer_urls_over_http_or_https_are_taken_as_given(value: str) -> None:
    """http too: peers inside a cluster are called over plain http."""
    settings = Settings.from_env(dict.fromkeys(PEER_URLS, value) | {"OTEL_EXPORTER_OTLP_ENDPOINT": value})
    assert (settings.inventory_service_url, settings.pricing_service_url) == (value, value)
    assert (settings.payment_service_url, settings.otel_exporter_otlp_endpoint) == (value, value)


def test_a_refused_url_does_not_show_its_password() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"PAYMENT_SERVICE_URL": "ftp://booking:s3cret@payments"})
    assert "s3cret" not in str(raised.value)
    assert "'ftp://booking:***@payments'" in str(raised.value)


@pytest.mark.parametrize(
    "value",
    ["kafka:9092", "kafka-1:9092,kafka-2:9092", "kafka", "10.0.0.5:9092, [::1]:9093", "SSL://kafka:9093"],
)
def test_bootstrap_servers_are_host_port_pairs(value: str) -> None:
    assert Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": value}).kafka_bootstrap_servers == value


@pytest.mark.parametrize(
    "value",
    ["http://kafka:9092", "kafka:notaport", "kafka:0", "kafka:70000", "kafka:9092,,kafka-2:9092", "ka fka"],
)
def test_bootstrap_servers_that_are_no_host_port_list_are_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": value})
    assert str(raised.value) == (
        "KAFKA_BOOTSTRAP_SERVERS must be host:port pairs separated by commas, such as "
        f"kafka-1:9092,kafka-2:9092, not {value!r}"
    )


def test_an_unknown_log_level_is_refused_like_an_unknown_log_format() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"LOG_LEVEL": "LOUD"})
    assert str(raised.value) == "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'"
    assert Settings.from_env({"LOG_LEVEL": "debug"}).log_level == "DEBUG"
    assert Settings.from_env({"LOG_LEVEL": "warn"}).log_level == "WARNING"  # logging's own alias
    assert Settings.from_env({}).log_level == "INFO"


def test_events_carry_the_guests_contact_only_when_told_to() -> None:
    assert Settings.from_env({}).events_guest_contact is GuestContact.OMIT
    assert Settings.from_env({"EVENTS_GUEST_CONTACT": "include"}).events_guest_contact is GuestContact.INCLUDE
    assert Settings.from_env({"EVENTS_GUEST_CONTACT": "Omit"}).events_guest_contact is GuestContact.OMIT
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"EVENTS_GUEST_CONTACT": "yes"})
    assert str(raised.value) == "EVENTS_GUEST_CONTACT must be one of omit, include, not 'yes'"


@pytest.mark.parametrize(
    ("name", "value"), [("PEER_TIMEOUT_SECONDS", "nan"), ("RATE_LIMIT_PER_SECOND", "inf")]
)
def test_numbers_that_are_not_finite_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} must be "):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BOOKING_MIN_PARTY_SIZE", "0", "BOOKING_MIN_PARTY_SIZE must be at least 1, not 0"),
        ("DB_POOL_SIZE", "0", "DB_POOL_SIZE must be at least 1, not 0"),
        ("WORKERS", "0", "WORKERS must be between 1 and 64, not 0"),
        ("PEER_RETRIES", "11", "PEER_RETRIES must be between 0 and 10, not 11"),
        ("SLOT_SEARCH_CONCURRENCY", "0", "SLOT_SEARCH_CONCURRENCY must be between 1 and 256, not 0"),
        ("SLOT_SEARCH_CACHE_SECONDS", "-1", "SLOT_SEARCH_CACHE_SECONDS must be between 0 and 300, not -1"),
        ("SLOT_SEARCH_CACHE_SECONDS", "301", "SLOT_SEARCH_CACHE_SECONDS must be between 0 and 300, not 301"),
    ],
)
def test_a_number_out_of_range_names_its_bounds(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/bookings", "DATABASE_URL must be a postgresql:// URL, not a mysql:// one"),
        (
            "foo",
            "DATABASE_URL must be a postgresql:// URL, such as "
            "postgresql://user:password@host:5432/database; it has no scheme",
        ),
    ],
)
def test_a_database_url_that_is_not_postgresql_says_what_it_is(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DATABASE_URL": url}).check()
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--workers", "0"], "argument --workers: WORKERS must be between 1 and 64, not 0"),
        (["serve", "--workers", "65"], "argument --workers: WORKERS must be between 1 and 64, not 65"),
        (["serve", "--workers", "two"], "argument --workers: WORKERS must be a whole number, not 'two'"),
        (
            ["events", "tail", "--max-messages", "0"],
            "argument --max-messages: must be a whole number, 1 or more, not '0'",
        ),
        (
            ["events", "tail", "--timeout", "0"],
            "argument --timeout: must be more than 0 and at most 3600 seconds, not '0'",
        ),
        (
            ["events", "tail", "--timeout", "nan"],
            "argument --timeout: must be more than 0 and at most 3600 seconds, not 'nan'",
        ),
        (
            ["events", "tail", "--idle-timeout", "-1"],
            "argument --idle-timeout: must be more than 0 seconds, not '-1'",
        ),
        (
            ["events", "tail", "--bootstrap-servers", "http://kafka:9092"],
            "argument --bootstrap-servers: KAFKA_BOOTSTRAP_SERVERS must be host:port pairs separated by "
            "commas, such as kafka-1:9092,kafka-2:9092, not 'http://kafka:9092'",
        ),
    ],
)
def test_a_command_line_flag_keeps_the_rule_of_its_setting(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser(Settings()).parse_args(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_command_line_flags_within_their_rules_are_taken() -> None:
    assert parser(Settings()).parse_args(["serve", "--workers", "64"]).workers == 64
    tail = parser(Settings()).parse_args(["events", "tail", "--max-messages", "3", "--timeout", "0.5"])
    assert (tail.max_messages, tail.timeout) == (3, 0.5)


@pytest.mark.parametrize("name", ["DATABASE_URL", "DATABASE_SESSION_URL"])
def test_a_database_url_is_refused_when_read_so_every_command_refuses_it(name: str) -> None:
    """Not only serve's check(): migrate, sagas and reconcile read the settings and go."""
    with pytest.raises(ConfigError, match=f"^{name} must be a postgresql:// URL"):
        Settings.from_env({name: "foo"})
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: "postgresql://booking:s3cret@db:notaport/bookings"})
    assert str(raised.value) == (
        f"{name} is not a URL that can be read, such as postgresql://user:password@host:5432/database"
    )
