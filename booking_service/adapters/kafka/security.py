"""How this service reaches a Kafka cluster that wants TLS, SASL or both (a managed cluster), for the
outbox relay's producer and for `booking-service events tail`: librdkafka's own settings, built in one
place from KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* (config.py reads them).

- PLAINTEXT (the default): nothing.
- SSL: KAFKA_SSL_CA_FILE to trust the brokers (else the system's CAs); KAFKA_SSL_CERT_FILE and
  KAFKA_SSL_KEY_FILE for mutual TLS.
- SASL_SSL (or SASL_PLAINTEXT) with KAFKA_SASL_MECHANISM: PLAIN or SCRAM-SHA-256/512 with
  KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE); or OAUTHBEARER with
  KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, _CLIENT_ID, _CLIENT_SECRET (and _SCOPE): OIDC client
  credentials, the token fetched and refreshed by librdkafka.

Names and values are librdkafka's (CONFIGURATION.md): `security.protocol`, `sasl.mechanism`,
`sasl.username`, `sasl.password`, `ssl.ca.location`, `ssl.certificate.location`, `ssl.key.location`,
`sasl.oauthbearer.method=oidc` and its `sasl.oauthbearer.*`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_file: Path | None = None
    ssl_cert_file: Path | None = None
    ssl_key_file: Path | None = None
    oauth_token_endpoint: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    oauth_scope: str | None = None

    def problems(self) -> list[str]:
        """What makes these settings unusable, each naming its setting (empty when they are usable)."""
        found = []
        if self.protocol not in PROTOCOLS:
            found.append(
                f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}"
            )
        sasl = self.protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism not in MECHANISMS:
            found.append(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_MECHANISM: {', '.join(MECHANISMS)}"
            )
        if not sasl and self.sasl_mechanism:
            found.append("KAFKA_SASL_MECHANISM needs KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT)")
        password_mechanism = self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if sasl and password_mechanism and not (self.sasl_username and self.sasl_password):
            found.append(
                f"KAFKA_SASL_MECHANISM={self.sasl_mechanism} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)"
            )
        if (
            sasl
            and self.sasl_mechanism == "OAUTHBEARER"
            and not (self.oauth_token_endpoint and self.oauth_client_id and self.oauth_client_secret)
        ):
            found.append(
                "KAFKA_SASL_MECHANISM=OAUTHBEARER needs KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, "
                "KAFKA_SASL_OAUTHBEARER_CLIENT_ID and KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET"
            )
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            found.append("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together")
        tls = self.protocol in ("SSL", "SASL_SSL")
        if not tls and (self.ssl_ca_file or self.ssl_cert_file):
            found.append("KAFKA_SSL_* files need KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL")
        for name, path in (
            ("KAFKA_SSL_CA_FILE", self.ssl_ca_file),
            ("KAFKA_SSL_CERT_FILE", self.ssl_cert_file),
            ("KAFKA_SSL_KEY_FILE", self.ssl_key_file),
        ):
            if path is not None and not path.is_file():
                found.append(f"{name}={path} does not exist or is not a file")
        return found

    def client_config(self) -> dict[str, str]:
        """librdkafka's settings for a producer or consumer (merged into its bootstrap settings)."""
        config = {"security.protocol": self.protocol.lower()}
        if self.protocol.startswith("SASL_") and self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            if self.sasl_mechanism == "OAUTHBEARER":
                config["sasl.oauthbearer.method"] = "oidc"
                config["sasl.oauthbearer.token.endpoint.url"] = self.oauth_token_endpoint or ""
                config["sasl.oauthbearer.client.id"] = self.oauth_client_id or ""
                config["sasl.oauthbearer.client.secret"] = self.oauth_client_secret or ""
                if self.oauth_scope:
                    config["sasl.oauthbearer.scope"] = self.oauth_scope
            else:
                config["sasl.username"] = self.sasl_username or ""
                config["sasl.password"] = self.sasl_password or ""
        if self.ssl_ca_file is not None:
            config["ssl.ca.location"] = str(self.ssl_ca_file)
        if self.ssl_cert_file is not None and self.ssl_key_file is not None:
            config["ssl.certificate.location"] = str(self.ssl_cert_file)
            config["ssl.key.location"] = str(self.ssl_key_file)
        return config

    def __repr__(self) -> str:  # never the password or the client secret, in a log or a traceback
        return f"KafkaSecurity(protocol={self.protocol!r}, sasl_mechanism={self.sasl_mechanism!r})"
