"""The decision taken before every call: who calls (authentication), whether they are over their
rate (limits), and whether they may make this call (scopes) — in that order, so that a caller
without the scope learns nothing about which bookings exist (PERMISSION_DENIED before NOT_FOUND).

Three ways to know the caller:
- a bearer JWT, when AUTH_JWT_PUBLIC_KEY_FILE or AUTH_JWKS_URL is set: its `sub` and `scope` claims;
- a client certificate, when GRPC_CLIENT_CA_FILE is set and no token is configured: the
  certificate's common name, with every scope (the CA vouches for the client);
- neither (the embedded default, open): `x-actor` names the caller, with every scope.

Failed authentication is rate limited per client address (AUTH_FAILURES_PER_SECOND and
AUTH_FAILURE_BURST), on both transports: past the burst, an address is refused with
RESOURCE_EXHAUSTED `AUTH_FAILURES` (429 with Retry-After) before its credentials are even checked,
so that guessing tokens, or making the service verify signatures, costs the guesser time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import grpc

from booking_service.config import Settings
from booking_service.entrypoints.auth import scopes
from booking_service.entrypoints.auth.caller import ALL_SCOPES, ANONYMOUS, Caller
from booking_service.entrypoints.auth.jwks import JwksKeys
from booking_service.entrypoints.auth.keys import PemKeys, SigningKeys
from booking_service.entrypoints.auth.rate_limit import RateLimiter
from booking_service.entrypoints.auth.refusal import CallRefused, missing_scope, unauthenticated
from booking_service.entrypoints.auth.tokens import MAX_SUBJECT_LENGTH, TokenVerifier

Metadata = Sequence[tuple[str, str | bytes]]
AuthContext = Mapping[str, Iterable[bytes]]

ACTOR_HEADER = "x-actor"


class CallGuard:
    def __init__(
        self,
        *,
        verifier: TokenVerifier | None = None,
        client_certificates: bool = False,
        limiter: RateLimiter | None = None,
        failures: RateLimiter | None = None,
        public_reflection: bool = False,
        public_metrics: bool = False,
    ) -> None:
        self._verifier = verifier
        self._client_certificates = client_certificates
        self._limiter = limiter
        self._failures = failures
        self._public = {scopes.METRICS} if public_metrics else set()
        if public_reflection:
            self._public |= scopes.REFLECTION_METHODS

    @classmethod
    def from_settings(cls, settings: Settings, jwks: JwksKeys | None = None) -> CallGuard:
        """`jwks`: the keys of AUTH_JWKS_URL (JwksKeys.from_settings), which the caller keeps fresh
        (`serve` fetches them at start and runs their refresh); with AUTH_JWT_PUBLIC_KEY_FILE the
        keys are read here."""
        assert (jwks is not None) == (settings.auth_jwks_url is not None)
        keys: SigningKeys | None = jwks
        if settings.auth_jwt_public_key_files:
            keys = PemKeys.from_files(settings.auth_jwt_public_key_files)
        verifier = None
        if keys is not None:
            assert settings.auth_jwt_issuer and settings.auth_jwt_audience  # Settings.check()
            verifier = TokenVerifier(
                keys,
                settings.auth_jwt_issuer,
                settings.auth_jwt_audience,
                settings.auth_jwt_leeway,
                max_lifetime=settings.auth_jwt_max_lifetime,
                token_type=settings.auth_jwt_type,
            )
        limiter = None
        if settings.rate_limit_per_second > 0:
            limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        failures = None
        if settings.auth_failures_per_second > 0:
            failures = RateLimiter(settings.auth_failures_per_second, settings.auth_failure_burst)
        return cls(
            verifier=verifier,
            client_certificates=settings.grpc_client_ca_file is not None,
            limiter=limiter,
            failures=failures,
            public_reflection=settings.auth_public_reflection,
            public_metrics=settings.auth_public_metrics,
        )

    @property
    def is_open(self) -> bool:
        return self._verifier is None and not self._client_certificates

    def admit(
        self, method: str, request: object, metadata: Metadata, auth_context: AuthContext, peer: str
    ) -> Caller:
        """The caller, if this call may go ahead; CallRefused otherwise."""
        if method.startswith(scopes.HEALTH_PREFIX):
            return ANONYMOUS
        if method in self._public:  # reflection or /metrics, when configured open to all
            self._limit(ANONYMOUS, peer)
            return ANONYMOUS
        caller = self.authenticate(metadata, auth_context, peer)
        self._limit(caller, peer)
        scope = scopes.required_scope(method, request)
        if scope not in caller.scopes:
            raise missing_scope(scope)
        return caller

    def authenticate(self, metadata: Metadata, auth_context: AuthContext, peer: str) -> Caller:
        """Who calls (CallRefused if they cannot say), with failures limited per client address.
        The REST gateway asks this before it reads a body; `admit` asks it for every call."""
        if self._failures is None:
            return self._authenticate(metadata, auth_context)
        key = f"client:{client_host(peer)}"
        wait = self._failures.wait(key)
        if wait > 0:
            raise _too_many_failures(wait)
        try:
            return self._authenticate(metadata, auth_context)
        except CallRefused:
            wait = self._failures.take(key)
            if wait > 0:
                raise _too_many_failures(wait) from None
            raise

    def _authenticate(self, metadata: Metadata, auth_context: AuthContext) -> Caller:
        if self._verifier is not None:
            return self._verifier.verify(_bearer_token(metadata))
        if self._client_certificates:
            name = next(iter(auth_context.get("x509_common_name") or ()), b"")
            if not name:
                raise unauthenticated("MISSING_CREDENTIALS", "This call needs a client certificate.")
            return Caller(name.decode("utf-8", "replace")[:MAX_SUBJECT_LENGTH], ALL_SCOPES, True)
        actor = _header(metadata, ACTOR_HEADER).strip()[:MAX_SUBJECT_LENGTH]
        return Caller(actor, ALL_SCOPES, False) if actor else ANONYMOUS

    def _limit(self, caller: Caller, peer: str) -> None:
        if self._limiter is None:
            return
        key = f"sub:{caller.subject}" if caller.authenticated else f"client:{client_host(peer)}"
        wait = self._limiter.take(key)
        if wait > 0:
            raise CallRefused(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "RATE_LIMITED",
                f"Too many calls from this caller; retry in {wait:.2f} s.",
                retry_after=wait,
            )


def _too_many_failures(wait: float) -> CallRefused:
    return CallRefused(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "AUTH_FAILURES",
        f"Too many failed authentications from this address; retry in {wait:.2f} s.",
        retry_after=wait,
    )


def _header(metadata: Metadata, name: str) -> str:
    for key, value in metadata:
        if key == name and isinstance(value, str):
            return value
    return ""


def _bearer_token(metadata: Metadata) -> str:
    value = _header(metadata, "authorization").strip()
    if not value:
        raise unauthenticated(
            "MISSING_CREDENTIALS", "This call needs a bearer token (authorization: Bearer <JWT>)."
        )
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated(
            "INVALID_TOKEN", "Only bearer tokens are accepted (authorization: Bearer <JWT>)."
        )
    return token.strip()


def client_host(peer: str) -> str:
    """The address part of a gRPC peer string (`ipv4:10.0.0.1:5000`, `ipv6:[::1]:5000`)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1 : rest.find("]")]
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    return peer
