"""Bearer tokens: JWTs signed with an asymmetric key, verified against the configured public key.

Signature, expiry, not-before, issuer and audience are all checked. The accepted algorithms follow
from the key's type, so `alg: none` and an HMAC signed with the public key as secret (the classic
algorithm-confusion attack) are refused whatever the token's header says.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from booking_service.entrypoints.auth.caller import Caller
from booking_service.entrypoints.auth.refusal import CallRefused, unauthenticated

_RSA = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
_EC_BY_CURVE = {"secp256r1": ["ES256"], "secp384r1": ["ES384"], "secp521r1": ["ES512"]}
MAX_SUBJECT_LENGTH = 128


class TokenVerifier:
    def __init__(self, public_key_pem: bytes, issuer: str, audience: str, leeway: timedelta) -> None:
        self._key: Any = load_pem_public_key(public_key_pem)
        self._algorithms = _algorithms_for(self._key)
        self._issuer, self._audience, self._leeway = issuer, audience, leeway

    @classmethod
    def from_file(cls, path: Path, issuer: str, audience: str, leeway: timedelta) -> TokenVerifier:
        return cls(path.read_bytes(), issuer, audience, leeway)

    def verify(self, token: str) -> Caller:
        """The caller the token names; CallRefused(UNAUTHENTICATED) saying what is wrong with it."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("TOKEN_EXPIRED", "The bearer token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise unauthenticated("TOKEN_NOT_YET_VALID", "The bearer token is not valid yet.") from None
        except jwt.InvalidIssuerError:
            raise unauthenticated("INVALID_TOKEN", "The bearer token has the wrong issuer.") from None
        except jwt.InvalidAudienceError:
            raise unauthenticated(
                "INVALID_TOKEN", "The bearer token is not meant for this service."
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthenticated("INVALID_TOKEN", f"The bearer token has no {exc.claim!r} claim.") from None
        except jwt.InvalidAlgorithmError:
            raise unauthenticated("INVALID_TOKEN", "The bearer token's algorithm is not accepted.") from None
        except jwt.InvalidTokenError:
            raise unauthenticated(
                "INVALID_TOKEN", "The bearer token is malformed or its signature is wrong."
            ) from None
        return _caller(claims)


def _caller(claims: dict[str, Any]) -> Caller:
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_LENGTH:
        raise _bad_claim("sub")
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        scopes = frozenset(raw.split())
    elif isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        scopes = frozenset(raw)
    else:
        raise _bad_claim("scope")
    return Caller(subject.strip(), scopes, authenticated=True)


def _bad_claim(name: str) -> CallRefused:
    return unauthenticated("INVALID_TOKEN", f"The bearer token's {name!r} claim is not usable.")


def _algorithms_for(key: Any) -> list[str]:
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC_BY_CURVE:
        return _EC_BY_CURVE[key.curve.name]
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return ["EdDSA"]
    raise ValueError(f"unsupported public key type for JWT verification: {type(key).__name__}")
