"""Page tokens are opaque, signed and bound to the filters they were issued for."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from booking_service.domain.errors import InvalidPageToken
from booking_service.service_layer.page_tokens import PageTokens

START = datetime(2030, 1, 2, 18, tzinfo=UTC)
ID = "00000000-0000-4000-8000-000000000001"


def test_a_token_round_trips_for_the_same_filters() -> None:
    tokens = PageTokens(b"secret")
    assert tokens.read(tokens.issue("filters", START, ID), "filters") == (START, ID)


def test_a_token_is_not_a_readable_offset() -> None:
    token = PageTokens(b"secret").issue("filters", START, ID)
    assert "2030" not in token
    assert ID not in token


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", base64.urlsafe_b64encode(b"50").decode(), "eyJmIjoxfQ.AAAA"],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidPageToken):
        PageTokens(b"secret").read(token, "filters")


def test_a_forged_or_foreign_token_is_refused() -> None:
    token = PageTokens(b"other secret").issue("filters", START, ID)
    with pytest.raises(InvalidPageToken):
        PageTokens(b"secret").read(token, "filters")


def test_a_token_for_other_filters_is_refused() -> None:
    tokens = PageTokens(b"secret")
    with pytest.raises(InvalidPageToken) as raised:
        tokens.read(tokens.issue("filters", START, ID), "other filters")
    assert "other filters" in raised.value.message
