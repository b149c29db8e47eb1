"""The keys bearer tokens are verified with, each with the algorithms it may verify.

The algorithms follow from the key's type (RSA: RS* and PS*; EC: the ES* of its curve; Ed25519 and
Ed448: EdDSA), narrowed to the key's own `alg` when its JWK names one (RFC 7517 section 4.4), so that
`alg: none` and an HMAC signed with the public key as secret (the algorithm-confusion attack) are
refused whatever the token's header says. Only public keys of those types are keys here: anything
else (a symmetric `oct` key, a private key) raises ValueError.

Two sources: PEM files (PemKeys, here: every key may verify any token, `kid` is not looked at) and
the identity provider's JWKS (jwks.JwksKeys: the key the token's `kid` names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_BY_CURVE = {"secp256r1": ("ES256",), "secp384r1": ("ES384",), "secp521r1": ("ES512",)}


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key (a `cryptography` key object) and the JWS `alg` values it may verify."""

    key: Any
    algorithms: tuple[str, ...]


class SigningKeys(Protocol):
    def for_token(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        """The keys that may have signed a token with this (unverified) JOSE header; CallRefused
        (UNAUTHENTICATED) when there are none to try."""
        ...


def verification_key(public_key: Any, alg: str | None = None) -> VerificationKey:
    """`public_key` with the algorithms its type allows, or only `alg` (a JWK's) when given; ValueError
    for a key of another type, or an `alg` its type does not allow."""
    algorithms = _algorithms_for(public_key)
    if alg is None:
        return VerificationKey(public_key, algorithms)
    if alg not in algorithms:
        raise ValueError(f"the key's alg {alg!r} is not one of its type's ({', '.join(algorithms)})")
    return VerificationKey(public_key, (alg,))


class PemKeys:
    """Public keys from PEM files (SubjectPublicKeyInfo): a token verifies if any of them verifies it."""

    def __init__(self, pems: Iterable[bytes]) -> None:
        self._keys = tuple(verification_key(load_pem_public_key(pem)) for pem in pems)
        if not self._keys:
            raise ValueError("no public keys")

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> PemKeys:
        return cls(path.read_bytes() for path in paths)

    def for_token(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        return self._keys


def _algorithms_for(key: Any) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC_BY_CURVE:
        return _EC_BY_CURVE[key.curve.name]
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return ("EdDSA",)
    raise ValueError(f"unsupported key type for JWT verification: {type(key).__name__}")
