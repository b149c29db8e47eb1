"""The rules every bearer token meets whatever its keys' source: several PEM keys, the longest
lifetime, the token type (RFC 9068); the settings that choose the source; how a JWK Set is read."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from booking_service.config import ConfigError, Settings
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.auth.jwks import MAX_KEYS, JwksError, parse_jwks
from booking_service.entrypoints.auth.refusal import CallRefused
from tests.e2e.security_support import AUDIENCE, ISSUER, TokenMaker, pem_verifier, public_pem

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OLD_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
PEER = "ipv4:127.0.0.1:5000"


def refusal(call: Any) -> str:
    with pytest.raises(CallRefused) as refused:
        call()
    return f"{refused.value.reason}: {refused.value.message}"


def test_tokens_from_any_of_several_pem_keys(tmp_path: Path) -> None:
    files = []
    for name, key in (("old.pem", OLD_RSA_KEY), ("new.pem", RSA_KEY), ("ec.pem", EC_KEY)):
        (tmp_path / name).write_bytes(public_pem(key))
        files.append(str(tmp_path / name))
    settings = Settings.from_env(
        {
            "AUTH_JWT_PUBLIC_KEY_FILE": " , ".join(files),
            "AUTH_JWT_ISSUER": ISSUER,
            "AUTH_JWT_AUDIENCE": AUDIENCE,
        }
    )
    settings.check()
    assert settings.authenticates
    guard = CallGuard.from_settings(settings)

    def authenticate(token: str) -> str:
        return guard.authenticate((("authorization", f"Bearer {token}"),), {}, PEER).subject

    assert authenticate(TokenMaker(OLD_RSA_KEY)(subject="by-old")) == "by-old"
    assert authenticate(TokenMaker(RSA_KEY)(subject="by-new")) == "by-new"
    assert authenticate(TokenMaker(EC_KEY, algorithm="ES256")(subject="by-ec")) == "by-ec"
    third = TokenMaker(rsa.generate_private_key(public_exponent=65537, key_size=2048))()
    assert refusal(lambda: authenticate(third)) == (
        "INVALID_TOKEN: The bearer token is malformed or its signature is wrong."
    )
    other_curve = TokenMaker(ec.generate_private_key(ec.SECP384R1()), algorithm="ES384")()
    assert refusal(lambda: authenticate(other_curve)) == (
        "INVALID_TOKEN: The bearer token's algorithm is not accepted."
    )


def test_a_token_for_a_century_is_refused() -> None:
    verifier = pem_verifier(RSA_KEY)  # at most an hour (and 5 s of leeway)
    now = int(time.time())
    assert refusal(lambda: verifier.verify(TokenMaker(RSA_KEY)(exp=now + 100 * 365 * 86400))) == (
        "INVALID_TOKEN: The bearer token's lifetime is too long: it expires more than 3600 s from now."
    )
    assert refusal(lambda: verifier.verify(TokenMaker(RSA_KEY)(exp=now + 3600 + 60))).startswith(
        "INVALID_TOKEN: The bearer token's lifetime is too long"
    )
    assert verifier.verify(TokenMaker(RSA_KEY)(exp=now + 3600)).subject == "svc-frontdesk"
    assert refusal(lambda: verifier.verify(TokenMaker(RSA_KEY)(exp=str(now + 300)))) == (
        "INVALID_TOKEN: The bearer token's 'exp' claim is not usable."
    )


def test_the_token_type_when_one_is_required() -> None:
    access_tokens = pem_verifier(RSA_KEY, token_type="at+jwt")
    make = TokenMaker(RSA_KEY)
    for typ in ("at+jwt", "application/at+jwt", "AT+JWT", "Application/At+Jwt"):
        assert access_tokens.verify(make(headers={"typ": typ})).authenticated, typ
    for typ in ("JWT", None, "jwt+at", "application/jwt"):
        assert refusal(lambda typ=typ: access_tokens.verify(make(headers={"typ": typ}))) == (
            "INVALID_TOKEN: The bearer token is not an access token of type 'at+jwt' (typ)."
        ), typ
    any_type = pem_verifier(RSA_KEY)
    for typ in ("at+jwt", "JWT", None):
        assert any_type.verify(make(headers={"typ": typ})).authenticated, typ


def test_the_settings_of_the_signing_keys(tmp_path: Path) -> None:
    pem = tmp_path / "issuer.pem"
    pem.write_bytes(public_pem(RSA_KEY))
    jwks = "https://auth.example.test/.well-known/jwks.json"
    claims = {"AUTH_JWT_ISSUER": ISSUER, "AUTH_JWT_AUDIENCE": AUDIENCE}
    both = Settings.from_env({"AUTH_JWKS_URL": jwks, "AUTH_JWT_PUBLIC_KEY_FILE": str(pem)} | claims)
    with pytest.raises(ConfigError, match="AUTH_JWKS_URL and AUTH_JWT_PUBLIC_KEY_FILE both"):
        both.check()
    with pytest.raises(ConfigError, match="AUTH_JWKS_URL needs AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE"):
        Settings.from_env({"AUTH_JWKS_URL": jwks, "AUTH_JWT_AUDIENCE": AUDIENCE}).check()
    for insecure in ("http://auth.example.test/jwks.json", "file:///etc/jwks.json", "auth.example.test"):
        with pytest.raises(ConfigError, match="must be an https URL"):
            Settings.from_env({"AUTH_JWKS_URL": insecure} | claims).check()
    settings = Settings.from_env(
        {
            "AUTH_JWKS_URL": jwks,
            "AUTH_JWKS_REFRESH_SECONDS": "60",
            "AUTH_JWT_MAX_LIFETIME_SECONDS": "3600",
            "AUTH_JWT_TYPE": "at+jwt",
            "BIND_HOST": "0.0.0.0",
        }
        | claims
    )
    settings.check()
    assert settings.authenticates
    assert (settings.auth_jwks_refresh.seconds, settings.auth_jwt_max_lifetime.seconds) == (60, 3600)
    assert settings.auth_jwt_type == "at+jwt"
    Settings.from_env({"AUTH_JWKS_URL": "http://127.0.0.1:8080/jwks.json"} | claims).check()
    defaults = Settings()
    assert (defaults.auth_jwks_refresh.seconds, defaults.auth_jwt_max_lifetime.days) == (300, 1)
    assert defaults.auth_jwt_type is None


def _jwk(kid: str, key: Any = RSA_KEY, **fields: Any) -> dict[str, Any]:
    algorithm = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    return algorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": kid} | fields


def test_a_jwk_set_keeps_only_public_signing_keys_named_by_kid() -> None:
    private_jwk = RSAAlgorithm.to_jwk(RSA_KEY, as_dict=True) | {"kid": "private"}
    keys = parse_jwks(
        json.dumps(
            {
                "keys": [
                    _jwk("rsa"),
                    _jwk("pinned", alg="PS256", use="sig"),
                    _jwk("ec", EC_KEY),
                    _jwk("enc", use="enc"),
                    _jwk("mismatch", alg="ES256"),
                    _jwk("", alg="RS256"),
                    {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
                    private_jwk,
                    {"kty": "RSA", "kid": "broken", "n": 7, "e": "AQAB"},
                    "not a key",
                ]
            }
        ).encode()
    )
    assert sorted(keys) == ["ec", "pinned", "rsa"]
    assert keys["pinned"][0].algorithms == ("PS256",)
    assert keys["ec"][0].algorithms == ("ES256",)
    assert keys["rsa"][0].algorithms == ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[]", '"keys" list'),
        (b'{"keys": {}}', '"keys" list'),
        (json.dumps({"keys": [_jwk("enc", use="enc")]}).encode(), "no usable signing key"),
        (json.dumps({"keys": [_jwk(str(n)) for n in range(MAX_KEYS + 1)]}).encode(), "more than"),
    ],
)
def test_a_jwk_set_without_a_usable_key_is_a_failed_fetch(body: bytes, problem: str) -> None:
    with pytest.raises(JwksError, match=problem):
        parse_jwks(body)
