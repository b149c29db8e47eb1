"""Keys, tokens and certificates made for the security tests, and servers secured with them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from booking_service.entrypoints.auth.keys import PemKeys, SigningKeys
from booking_service.entrypoints.auth.tokens import TokenVerifier

ISSUER = "https://auth.example.test/"
AUDIENCE = "booking-service"


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verifier(
    keys: SigningKeys,
    *,
    max_lifetime: timedelta = timedelta(hours=1),
    token_type: str | None = None,
    leeway: timedelta = timedelta(seconds=5),
) -> TokenVerifier:
    """A verifier of ISSUER's tokens for AUDIENCE, with 5 s of leeway unless told."""
    return TokenVerifier(keys, ISSUER, AUDIENCE, leeway, max_lifetime=max_lifetime, token_type=token_type)


def pem_verifier(*keys: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, **rules: Any) -> TokenVerifier:
    """A verifier trusting the public halves of `keys` (PEM keys, as AUTH_JWT_PUBLIC_KEY_FILE gives)."""
    return verifier(PemKeys(public_pem(key) for key in keys), **rules)


@dataclass
class TokenMaker:
    """Signs tokens as the configured issuer would; keyword arguments override claims. `kid` and
    `headers` go into the JOSE header (a header value None leaves the field out)."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    kid: str | None = None
    algorithm: str = "RS256"

    def __call__(
        self,
        scope: str = "bookings.read",
        subject: str = "svc-frontdesk",
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "scope": scope,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        header = ({"kid": self.kid} if self.kid else {}) | (headers or {})  # PyJWT drops a typ of None
        return jwt.encode(payload, self.key, algorithm=self.algorithm, headers=header)


def unsigned_token(kid: str | None = None, **claims: Any) -> str:
    """`alg: none`: a token anyone can write."""
    header = {"alg": "none", "typ": "JWT"} | ({"kid": kid} if kid else {})
    return ".".join([_b64(header), _b64(claims), ""])


def hmac_token(secret: bytes, kid: str | None = None, **claims: Any) -> str:
    """HS256 signed with `secret` (the public key's PEM or JWK, in the algorithm-confusion attack)."""
    header = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid else {})
    signing_input = ".".join([_b64(header), _b64(claims)])
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@dataclass
class Pki:
    """A CA with a server certificate for localhost and a client certificate, written to files."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    client_cert_file: Path
    client_key_file: Path

    @classmethod
    def make(cls, folder: Path, client_name: str, prefix: str = "") -> Pki:
        ca_key, ca_cert = _certificate(f"{prefix}Test CA", None, None, ca=True)
        server_key, server_cert = _certificate("localhost", ca_key, ca_cert, server=True)
        client_key, client_cert = _certificate(client_name, ca_key, ca_cert)
        files = {}
        for name, value in {
            "ca.pem": _pem(ca_cert),
            "server.pem": _pem(server_cert),
            "server.key": _key_pem(server_key),
            "client.pem": _pem(client_cert),
            "client.key": _key_pem(client_key),
        }.items():
            path = folder / f"{prefix}{name}"
            path.write_bytes(value)
            files[name] = path
        return cls(
            files["ca.pem"],
            files["server.pem"],
            files["server.key"],
            files["client.pem"],
            files["client.key"],
        )


def _certificate(
    common_name: str,
    issuer_key: ec.EllipticCurvePrivateKey | None,
    issuer_cert: x509.Certificate | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
