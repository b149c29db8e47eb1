"""Opaque page tokens (AIP-158): a keyset cursor (start time, id), bound to the query's filters and
signed, so a token cannot be forged, edited, or reused with other filters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime

from booking_service.domain.errors import InvalidPageToken

_MAC_BYTES = 16


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, filters: str, start: datetime, booking_id: str) -> str:
        payload = json.dumps({"f": _digest(filters), "s": start.isoformat(), "i": booking_id}).encode()
        return _b64(payload) + "." + _b64(self._mac(payload))

    def read(self, token: str, filters: str) -> tuple[datetime, str]:
        """The cursor of a token issued for these filters (raises InvalidPageToken otherwise)."""
        try:
            payload_part, mac_part = token.split(".")
            payload = _unb64(payload_part)
            if not hmac.compare_digest(_unb64(mac_part), self._mac(payload)):
                raise ValueError("bad signature")
            fields = json.loads(payload)
            start, booking_id = datetime.fromisoformat(fields["s"]), str(fields["i"])
            same_filters = fields["f"] == _digest(filters)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidPageToken(
                "page_token is not a token this service issued; start again without one.",
                {"field": "page_token"},
            ) from exc
        if not same_filters:
            raise InvalidPageToken(
                "page_token belongs to a listing with other filters; keep the filters of the first page.",
                {"field": "page_token"},
            )
        return start, booking_id

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _digest(filters: str) -> str:
    return hashlib.sha256(filters.encode()).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
