"""All embedded or all real (DESIGN.md, "Decisions of the second turn"): which of serve's dependencies
are real and which are embedded stand-ins, and the refusal of a half-configured service.

With nothing configured and a loopback address, `serve` starts every dependency embedded: the
README's first command. Any production setting (a database, a broker, a peer, authentication, an
address other than loopback) says this is meant to be real, and then a missing dependency is not
quietly replaced by a stand-in that would lose events or take no money: the service refuses to
start, naming each missing setting. `serve --dev` starts stand-ins for what is missing all the same,
and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from booking_service.config import (
    DEV_PAGE_TOKEN_SECRET,
    MIN_PAGE_TOKEN_SECRET_LENGTH,
    ConfigError,
    Settings,
    is_loopback,
)


@dataclass(frozen=True, slots=True)
class Dependency:
    """One thing serve needs from outside, the setting that names it, and its stand-in."""

    part: str
    setting: str
    configured: bool
    #: What goes wrong if the stand-in runs where the real one was meant.
    if_embedded: str

    @property
    def mode(self) -> str:
        return "real" if self.configured else "embedded"


def dependencies(settings: Settings) -> list[Dependency]:
    return [
        Dependency(
            "database",
            "DATABASE_URL",
            bool(settings.database_url),
            "the bookings would live in an embedded PostgreSQL in the data directory",
        ),
        Dependency(  # RabbitMQ has no stand-in: config.py refuses EVENTS_BROKER=rabbitmq without its URL
            "events broker",
            "RABBITMQ_URL" if settings.rabbitmq else "KAFKA_BOOTSTRAP_SERVERS",
            bool(settings.rabbitmq_url if settings.rabbitmq else settings.kafka_bootstrap_servers),
            "events would go to an in-memory broker and be lost",
        ),
        Dependency(
            "inventory service",
            "INVENTORY_SERVICE_URL",
            bool(settings.inventory_service_url),
            "units would be held in a sandbox, not in the real inventory",
        ),
        Dependency(
            "pricing service",
            "PRICING_SERVICE_URL",
            bool(settings.pricing_service_url),
            "prices would come from a sandbox",
        ),
        Dependency(
            "payment service",
            "PAYMENT_SERVICE_URL",
            bool(settings.payment_service_url),
            "payments would be taken by a sandbox: no money would move",
        ),
    ]


def production_settings(settings: Settings) -> list[str]:
    """The settings given that say this service is meant to be real."""
    given = [d.setting for d in dependencies(settings) if d.configured]
    if not is_loopback(settings.bind_host):
        given.append(f"BIND_HOST={settings.bind_host}")
    if settings.auth_jwt_public_key_files:
        given.append("AUTH_JWT_PUBLIC_KEY_FILE")
    if settings.auth_jwks_url is not None:
        given.append("AUTH_JWKS_URL")
    if settings.grpc_client_ca_file is not None:
        given.append("GRPC_CLIENT_CA_FILE")
    return given


def plan(settings: Settings, *, dev: bool = False) -> list[Dependency]:
    """The dependencies, each real or embedded; raises ConfigError, naming every missing setting,
    when a production setting is given and something is missing (unless `dev`). Besides the
    dependencies, production needs its own PAGE_TOKEN_SECRET: the development one is in this code,
    and a short one can be guessed (refused even with `dev`: it replaces what is missing, not a
    secret that is given)."""
    parts = dependencies(settings)
    given = production_settings(settings)
    secret = settings.page_token_secret
    if given and secret != DEV_PAGE_TOKEN_SECRET and len(secret) < MIN_PAGE_TOKEN_SECRET_LENGTH:
        raise ConfigError(
            f"PAGE_TOKEN_SECRET must be at least {MIN_PAGE_TOKEN_SECRET_LENGTH} characters when a "
            f"production setting is given ({', '.join(given)}); it has {len(secret)}: a short secret can "
            "be guessed, and page tokens forged with it"
        )
    lacking = [f"{d.setting} ({d.if_embedded})" for d in parts if not d.configured]
    if settings.page_token_secret == DEV_PAGE_TOKEN_SECRET:
        lacking.append(
            "PAGE_TOKEN_SECRET (page tokens would be signed with the development secret, which anyone "
            "can read in this service's source, so anyone could forge them)"
        )
    if lacking and given and not dev:
        raise ConfigError(
            f"this service is configured for production ({', '.join(given)}), so every dependency "
            "must be real, and these are not configured: "
            + "; ".join(lacking)
            + ". Set them, or run `booking-service serve --dev` to start embedded stand-ins for them."
        )
    return parts
