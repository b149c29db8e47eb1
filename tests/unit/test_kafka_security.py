"""Kafka TLS and SASL settings (issue 15): read from the environment, refused when incomplete (each
problem named), and turned into librdkafka's own settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer

from booking_service.adapters.kafka.publisher import producer_config
from booking_service.config import ConfigError, Settings

SCRAM = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka.internal:9093",
    "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "KAFKA_SASL_MECHANISM": "scram-sha-512",
    "KAFKA_SASL_USERNAME": "booking",
}


def test_scram_over_tls_reaches_librdkafka_with_a_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text("s3cret\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings.from_env(
        {**SCRAM, "KAFKA_SASL_PASSWORD_FILE": str(secret), "KAFKA_SSL_CA_FILE": str(ca)}
    )
    settings.check()
    config = settings.kafka_security.client_config()
    assert config == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "booking",
        "sasl.password": "s3cret",
        "ssl.ca.location": str(ca),
    }
    assert "s3cret" not in repr(settings)


def test_oauthbearer_uses_oidc_client_credentials() -> None:
    settings = Settings.from_env(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL": "https://idp.internal/token",
            "KAFKA_SASL_OAUTHBEARER_CLIENT_ID": "booking",
            "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET": "x",
        }
    )
    settings.check()
    config = producer_config("kafka.internal:9093", settings.events_delivery_timeout, settings.kafka_security)
    assert (config["sasl.oauthbearer.method"], config["sasl.oauthbearer.client.id"]) == ("oidc", "booking")
    Producer({k: v for k, v in config.items() if k != "logger"})  # librdkafka takes every setting


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs KAFKA_SASL_MECHANISM"),
        (SCRAM, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL must be one of"),
        ({"KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_MECHANISM needs KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
        ({"KAFKA_SSL_CA_FILE": "/etc/ca.pem"}, "KAFKA_SSL_* files need KAFKA_SECURITY_PROTOCOL=SSL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "/nope.pem"}, "go together"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": "/nope.pem"}, "/nope.pem does not exist"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "OAUTHBEARER"},
            "needs KAFKA_SASL_OAUTHBEARER",
        ),
    ],
)
def test_incomplete_settings_are_refused_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("*", r"\*")):
        Settings.from_env(env).check()


def test_one_password_source() -> None:
    with pytest.raises(ConfigError, match="set one of them"):
        Settings.from_env({**SCRAM, "KAFKA_SASL_PASSWORD": "a", "KAFKA_SASL_PASSWORD_FILE": "/run/secrets/p"})
