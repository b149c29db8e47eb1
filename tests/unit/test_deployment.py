"""All embedded or all real (DESIGN.md): a half-configured service is refused, naming each missing
setting; nothing configured on loopback is the embedded mode; `--dev` allows stand-ins."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from booking_service.config import DEV_PAGE_TOKEN_SECRET, ConfigError, Settings
from booking_service.entrypoints.deployment import plan

REAL = Settings(
    database_url="postgresql://db.internal/bookings",
    kafka_bootstrap_servers="kafka.internal:9092",
    inventory_service_url="https://inventory.internal",
    pricing_service_url="https://pricing.internal",
    payment_service_url="https://payments.internal",
    page_token_secret="a secret of this deployment's own",
)
SETTINGS = {
    "DATABASE_URL": "database_url",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka_bootstrap_servers",
    "INVENTORY_SERVICE_URL": "inventory_service_url",
    "PRICING_SERVICE_URL": "pricing_service_url",
    "PAYMENT_SERVICE_URL": "payment_service_url",
}


def test_nothing_configured_on_loopback_is_all_embedded() -> None:
    assert {d.part: d.mode for d in plan(Settings())} == {
        "database": "embedded",
        "events broker": "embedded",
        "inventory service": "embedded",
        "pricing service": "embedded",
        "payment service": "embedded",
    }


def test_everything_configured_is_all_real() -> None:
    assert {d.mode for d in plan(REAL)} == {"real"}


@pytest.mark.parametrize("setting", SETTINGS)
def test_each_missing_dependency_is_refused_by_name(setting: str) -> None:
    half = replace(REAL, **{SETTINGS[setting]: None})
    with pytest.raises(ConfigError) as refused:
        plan(half)
    message = str(refused.value)
    assert setting in message
    assert [name for name in SETTINGS if f"{name} (" in message] == [setting]  # only the missing one
    assert "--dev" in message
    assert {d.setting: d.mode for d in plan(half, dev=True)}[setting] == "embedded"


def test_every_missing_setting_is_named_in_one_message() -> None:
    with pytest.raises(ConfigError) as refused:
        plan(Settings(payment_service_url="https://payments.internal"))
    message = str(refused.value)
    assert "configured for production (PAYMENT_SERVICE_URL)" in message
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "INVENTORY_SERVICE_URL", "PRICING_SERVICE_URL"):
        assert f"{name} (" in message
    assert "payments would be taken by a sandbox" not in message  # it is configured


@pytest.mark.parametrize(
    "production",
    [
        {"bind_host": "0.0.0.0"},
        {"auth_jwt_public_key_files": (Path("/keys/issuer.pem"),)},
        {"auth_jwks_url": "https://auth.example.com/.well-known/jwks.json"},
        {"grpc_client_ca_file": Path("/keys/ca.pem")},
    ],
    ids=["a-network-address", "bearer-tokens", "a-jwks", "client-certificates"],
)
def test_a_production_setting_that_is_no_dependency_also_requires_them_all(
    production: dict[str, object],
) -> None:
    with pytest.raises(ConfigError) as refused:
        plan(replace(Settings(), **production))  # type: ignore[arg-type]
    assert "DATABASE_URL (" in str(refused.value)


def test_production_needs_its_own_page_token_secret() -> None:
    """The development secret is in this code: in production anyone could forge page tokens."""
    with pytest.raises(ConfigError) as refused:
        plan(replace(REAL, page_token_secret=DEV_PAGE_TOKEN_SECRET))
    message = str(refused.value)
    assert "PAGE_TOKEN_SECRET (page tokens would be signed with the development secret" in message
    assert [name for name in SETTINGS if f"{name} (" in message] == []
    assert {d.mode for d in plan(replace(REAL, page_token_secret=DEV_PAGE_TOKEN_SECRET), dev=True)} == {
        "real"
    }
    assert plan(Settings())  # nothing configured on loopback: the development secret is fine


@pytest.mark.parametrize("dev", [False, True])
def test_production_refuses_a_page_token_secret_shorter_than_32_characters(dev: bool) -> None:
    """A short secret can be guessed, and page tokens forged with it; `--dev` replaces what is
    missing, not a secret that is given."""
    with pytest.raises(ConfigError) as refused:
        plan(replace(REAL, page_token_secret="x"), dev=dev)
    assert str(refused.value) == (
        "PAGE_TOKEN_SECRET must be at least 32 characters when a production setting is given "
        "(DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, INVENTORY_SERVICE_URL, PRICING_SERVICE_URL, "
        "PAYMENT_SERVICE_URL); it has 1: a short secret can be guessed, and page tokens forged with it"
    )
    assert plan(replace(REAL, page_token_secret="s" * 32), dev=dev)
    assert plan(replace(Settings(), page_token_secret="x"), dev=dev)  # nothing of production given
