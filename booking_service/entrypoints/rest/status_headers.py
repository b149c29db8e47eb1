"""HTTP headers an error status calls for: `WWW-Authenticate` on 401 and on a missing scope
(RFC 6750: invalid_token, insufficient_scope), and `Retry-After` when the status carries a RetryInfo
(rate limits, overload)."""

from __future__ import annotations

import math

import grpc
from google.rpc import error_details_pb2, status_pb2

REALM = "booking-service"


def status_headers(status: status_pb2.Status) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    has_info = has_retry = False
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            has_info = detail.Unpack(info)
        elif detail.Is(retry.DESCRIPTOR):
            has_retry = detail.Unpack(retry)
    challenge = _challenge(status, info if has_info else None)
    if challenge:
        headers.append((b"www-authenticate", challenge.encode("latin-1", "replace")))
    if has_retry:
        seconds = max(1, math.ceil(retry.retry_delay.ToNanoseconds() / 1e9))
        headers.append((b"retry-after", str(seconds).encode()))
    return headers


def _challenge(status: status_pb2.Status, info: error_details_pb2.ErrorInfo | None) -> str:
    reason = info.reason if info is not None else ""
    if status.code == grpc.StatusCode.UNAUTHENTICATED.value[0]:
        if reason == "MISSING_CREDENTIALS":
            return f'Bearer realm="{REALM}"'
        return f'Bearer realm="{REALM}", error="invalid_token", error_description="{_quoted(status.message)}"'
    if status.code == grpc.StatusCode.PERMISSION_DENIED.value[0] and info and reason == "MISSING_SCOPE":
        scope = _quoted(info.metadata.get("required_scope", ""))
        return f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
    return ""


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")
