"""Bearer tokens: JWTs (RFC 7519) signed with an asymmetric key, verified against the signing keys.

The keys come from PEM files or the identity provider's JWKS (keys.py, jwks.py); a token is tried
against the keys that may have signed it (the JWKS key its `kid` names, or every PEM key) with only
the algorithms each key allows, so `alg: none` and HMAC-with-the-public-key are refused whatever the
header says. After the signature: `exp` (required), `nbf`, `iss`, `aud` and `sub`, with `leeway` of
clock skew (a stream the token opened ends once `exp` plus the leeway passes: lifetime.py); `exp`
at most `max_lifetime` (plus leeway) ahead of now, so that a token minted for a century is not a
permanent credential; and, when `token_type` is set, the header's `typ` (RFC 9068
section 2.1: `at+jwt`, so that an ID token of the same issuer is not taken for an access token).

Every refusal is CallRefused(UNAUTHENTICATED) with a reason (TOKEN_EXPIRED, TOKEN_NOT_YET_VALID,
INVALID_TOKEN, or the key source's) and a message that says what is wrong, never the token itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import jwt

from booking_service.entrypoints.auth.caller import Caller
from booking_service.entrypoints.auth.keys import SigningKeys, VerificationKey
from booking_service.entrypoints.auth.refusal import CallRefused, unauthenticated

MAX_SUBJECT_LENGTH = 128


class TokenVerifier:
    def __init__(
        self,
        keys: SigningKeys,
        issuer: str,
        audience: str,
        leeway: timedelta,
        *,
        max_lifetime: timedelta,
        token_type: str | None = None,
    ) -> None:
        """`max_lifetime`: how far ahead of now a token's `exp` may lie (beyond `leeway`);
        `token_type`: the `typ` the header must carry (`at+jwt`), or None to accept any."""
        self._keys = keys
        self._issuer, self._audience, self._leeway = issuer, audience, leeway
        self._max_lifetime = max_lifetime
        self._type = _media_type(token_type) if token_type is not None else None

    def verify(self, token: str) -> Caller:
        """The caller the token names; CallRefused(UNAUTHENTICATED) saying what is wrong with it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _malformed() from None
        keys = [key for key in self._keys.for_token(header) if header.get("alg") in key.algorithms]
        if not keys:
            raise unauthenticated("INVALID_TOKEN", "The bearer token's algorithm is not accepted.")
        claims = self._decode(token, keys)
        if self._type is not None and _media_type(header.get("typ")) != self._type:
            raise unauthenticated(
                "INVALID_TOKEN", f"The bearer token is not an access token of type {self._type!r} (typ)."
            )
        expires = claims["exp"]
        if not isinstance(expires, int | float):  # PyJWT takes a string of digits too (RFC 7519: a number)
            raise _bad_claim("exp")
        if expires - time.time() > (self._max_lifetime + self._leeway).total_seconds():
            raise unauthenticated(
                "INVALID_TOKEN",
                "The bearer token's lifetime is too long: it expires more than "
                f"{self._max_lifetime.total_seconds():.0f} s from now.",
            )
        return _caller(claims, expires + self._leeway.total_seconds())

    def _decode(self, token: str, keys: Sequence[VerificationKey]) -> dict[str, Any]:
        """The claims, once one of `keys` verifies the signature and the registered claims hold."""
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key.key,
                    algorithms=list(key.algorithms),
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=self._leeway,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
            except jwt.InvalidSignatureError:
                continue  # another key may have signed it
            except jwt.InvalidTokenError as exc:
                raise _refusal(exc) from None
            return claims
        raise _malformed()


def _refusal(exc: jwt.InvalidTokenError) -> CallRefused:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return token_expired()
    if isinstance(exc, jwt.ImmatureSignatureError):
        return unauthenticated("TOKEN_NOT_YET_VALID", "The bearer token is not valid yet.")
    if isinstance(exc, jwt.InvalidIssuerError):
        return unauthenticated("INVALID_TOKEN", "The bearer token has the wrong issuer.")
    if isinstance(exc, jwt.InvalidAudienceError):
        return unauthenticated("INVALID_TOKEN", "The bearer token is not meant for this service.")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return unauthenticated("INVALID_TOKEN", f"The bearer token has no {exc.claim!r} claim.")
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return unauthenticated("INVALID_TOKEN", "The bearer token's algorithm is not accepted.")
    return _malformed()


def token_expired() -> CallRefused:
    """The refusal of a token past its `exp` (plus leeway): of a new call, or of a stream it opened."""
    return unauthenticated("TOKEN_EXPIRED", "The bearer token has expired.")


def _malformed() -> CallRefused:
    return unauthenticated("INVALID_TOKEN", "The bearer token is malformed or its signature is wrong.")


def _media_type(typ: object) -> str | None:
    """A `typ` as compared: media types are case-insensitive, and `application/` may be left out
    (RFC 7515 section 4.1.9)."""
    if not isinstance(typ, str):
        return None
    return typ.lower().removeprefix("application/")


def _caller(claims: dict[str, Any], expires_at: float) -> Caller:
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
    return Caller(subject.strip(), scopes, authenticated=True, expires_at=expires_at)


def _bad_claim(name: str) -> CallRefused:
    return unauthenticated("INVALID_TOKEN", f"The bearer token's {name!r} claim is not usable.")
