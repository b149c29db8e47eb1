"""A call refused before it runs: not authenticated, not allowed, or over its limits.

Carries what both transports need to say so: the gRPC code, a stable reason, a message that names
what is missing (never the token itself), and for rate limits how long to wait.
"""

from __future__ import annotations

import grpc


class CallRefused(Exception):
    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        metadata: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.metadata = metadata or {}
        self.retry_after = retry_after


def unauthenticated(reason: str, message: str) -> CallRefused:
    return CallRefused(grpc.StatusCode.UNAUTHENTICATED, reason, message)


def missing_scope(scope: str) -> CallRefused:
    return CallRefused(
        grpc.StatusCode.PERMISSION_DENIED,
        "MISSING_SCOPE",
        f"This call needs the scope {scope!r}, which the caller's token does not grant.",
        {"required_scope": scope},
    )
