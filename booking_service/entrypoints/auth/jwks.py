"""The identity provider's token signing keys, from its JWK Set (RFC 7517 section 5), kept fresh.

A token is verified with the key its header's `kid` names (RFC 7515 section 4.1.4); a token without a
`kid` is refused. The set is fetched once at start (`refresh`, within `fetch_timeout_seconds`), then
every `refresh_interval` (`run`, a background task). A token naming a `kid` the set does not hold is
refused at once and wakes `run` for an early refresh, at most once per `early_refresh_seconds`: a
rotation in which the provider publishes the new key shortly before it signs with it needs no
restart, and a stream of made-up kids costs the provider one extra fetch per interval at most.

A failed fetch (no answer within the timeout, a status other than 200, more than MAX_JWKS_BYTES, not
a JWK Set, more than MAX_KEYS keys, no usable key) is logged and keeps the last good set; it is
tried again sooner (1 s, doubling up to the refresh interval). Until a first fetch succeeds every
token is refused: UNAUTHENTICATED `SIGNING_KEYS_UNKNOWN`.

Keys are read by PyJWT (`jwt.PyJWK`: kty, crv, n and e, x and y); `keys.verification_key` gives
each its algorithms (from its type, narrowed to its `alg`). Left out, each logged: keys whose `use`
is not `sig` (RFC 7517 section 4.2: encryption keys), keys without a `kid` (no token can name them),
and keys PyJWT or verification_key cannot use (symmetric or private keys, an `alg` the type does
not allow, an unknown `kty` or curve).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import httpx
import jwt

from booking_service.config import Settings
from booking_service.entrypoints.auth.keys import VerificationKey, verification_key
from booking_service.entrypoints.auth.refusal import unauthenticated

log = logging.getLogger("booking_service.auth")

MAX_JWKS_BYTES = 1 << 20
MAX_KEYS = 100
FETCH_TIMEOUT_SECONDS = 5.0
EARLY_REFRESH_SECONDS = 30.0
FIRST_RETRY_SECONDS = 1.0

KeySet = Mapping[str, Sequence[VerificationKey]]


class JwksError(Exception):
    """The JWK Set could not be fetched, or holds nothing usable."""


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        refresh_interval: timedelta,
        fetch_timeout_seconds: float = FETCH_TIMEOUT_SECONDS,
        early_refresh_seconds: float = EARLY_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._refresh_seconds = refresh_interval.total_seconds()
        self._timeout = fetch_timeout_seconds
        self._early_seconds = early_refresh_seconds
        self._clock = clock
        self._client = httpx.AsyncClient(timeout=fetch_timeout_seconds, follow_redirects=False)
        self._keys: KeySet | None = None  # None: never fetched
        self._wake = asyncio.Event()
        self._last_early: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JwksKeys | None:
        """The keys AUTH_JWKS_URL serves, refreshed every AUTH_JWKS_REFRESH_SECONDS; None if unset."""
        if settings.auth_jwks_url is None:
            return None
        return cls(settings.auth_jwks_url, refresh_interval=settings.auth_jwks_refresh)

    def for_token(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        """The keys the header's `kid` names (normally one); CallRefused(UNAUTHENTICATED) when the
        set is not known yet, the header names no kid, or a kid the set does not hold."""
        if self._keys is None:
            self._refresh_early()
            raise unauthenticated(
                "SIGNING_KEYS_UNKNOWN",
                "The service does not know the token signing keys yet (the identity provider's JWKS "
                "could not be fetched); try again shortly.",
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise unauthenticated("INVALID_TOKEN", "The bearer token does not name its signing key (kid).")
        keys = self._keys.get(kid)
        if keys is None:
            self._refresh_early()
            raise unauthenticated(
                "INVALID_TOKEN",
                "The bearer token's signing key (kid) is not one the identity provider lists.",
            )
        return keys

    async def refresh(self) -> bool:
        """Fetches the set once, within the fetch timeout; whether it did. A failure is logged as an
        error and keeps the set known before."""
        try:
            async with asyncio.timeout(self._timeout):
                body = await self._fetch()
            keys = parse_jwks(body)
        except (httpx.HTTPError, TimeoutError, JwksError) as exc:
            log.error(
                "could not fetch the token signing keys (JWKS); keeping the keys known before",
                extra={"url": self.url, "error": f"{type(exc).__name__}: {exc}", "kids": _kids(self._keys)},
            )
            return False
        if self._keys is None or _kids(keys) != _kids(self._keys):
            log.info("token signing keys (JWKS)", extra={"url": self.url, "kids": _kids(keys)})
        self._keys = keys
        return True

    async def run(self) -> None:
        """Refreshes every refresh interval; sooner when a token names an unknown kid, or after a
        failed fetch (1 s, doubling up to the interval). Runs until cancelled."""
        retry = FIRST_RETRY_SECONDS
        wait = self._refresh_seconds if self._keys is not None else retry
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            if await self.refresh():
                wait, retry = self._refresh_seconds, FIRST_RETRY_SECONDS
            else:
                wait, retry = min(retry, self._refresh_seconds), retry * 2

    async def aclose(self) -> None:
        await self._client.aclose()

    def _refresh_early(self) -> None:
        now = self._clock()
        if self._last_early is not None and now - self._last_early < self._early_seconds:
            return
        self._last_early = now
        self._wake.set()

    async def _fetch(self) -> bytes:
        accept = {"accept": "application/jwk-set+json, application/json"}
        async with self._client.stream("GET", self.url, headers=accept) as answer:
            if answer.status_code != 200:
                raise JwksError(f"the JWKS URL answered {answer.status_code}")
            body = bytearray()
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
            return bytes(body)


def parse_jwks(body: bytes) -> KeySet:
    """The signing keys of a JWK Set document (`{"keys": [JWK, ...]}`), by kid; JwksError if it is
    not one, holds more than MAX_KEYS keys, or none usable."""
    try:
        document = json.loads(body)
    except ValueError:
        raise JwksError("the JWKS is not JSON") from None
    members = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(members, list):
        raise JwksError('the JWKS has no "keys" list')
    if len(members) > MAX_KEYS:
        raise JwksError(f"the JWKS has {len(members)} keys, more than {MAX_KEYS}")
    keys: dict[str, list[VerificationKey]] = {}
    for member in members:
        if isinstance(member, dict) and member.get("use", "sig") != "sig":
            continue  # an encryption key
        try:
            kid, key = _signing_key(member)
        except (ValueError, TypeError, KeyError, AttributeError, jwt.PyJWTError) as exc:
            named = member.get("kid") if isinstance(member, dict) else None
            log.warning("a JWKS key is left out", extra={"kid": str(named), "reason": str(exc)})
            continue
        keys.setdefault(kid, []).append(key)
    if not keys:
        raise JwksError("the JWKS has no usable signing key")
    return {kid: tuple(found) for kid, found in keys.items()}


def _signing_key(member: object) -> tuple[str, VerificationKey]:
    if not isinstance(member, dict):
        raise ValueError("not a JSON object")
    kid, alg = member.get("kid"), member.get("alg")
    if not isinstance(kid, str) or not kid:
        raise ValueError("no kid: no token can name it")
    if alg is not None and not isinstance(alg, str):
        raise ValueError("its alg is not a string")
    return kid, verification_key(jwt.PyJWK(member).key, alg)


def _kids(keys: KeySet | None) -> list[str]:
    return sorted(keys or ())
