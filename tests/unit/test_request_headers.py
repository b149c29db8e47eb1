"""The REST gateway's header rules: If-Match names a version only in the form this service writes
it, and a header read as one value is never read from one of several lines."""

from __future__ import annotations

import pytest

from booking_service.entrypoints.rest.etags import BadPrecondition, etag, version_of
from booking_service.entrypoints.rest.headers import RepeatedHeader, RequestHeaders


@pytest.mark.parametrize("version", [1, 2, 10, 1234, (1 << 63) - 1])
def test_the_etag_written_is_the_version_read(version: int) -> None:
    assert version_of(etag(version)) == version


@pytest.mark.parametrize(
    "value",
    ['"01"', '"+1"', '"-1"', '"1 "', '" 1"', '"1.0"', '"1e0"', '""', '"\u0661"', '"9223372036854775808"'],
)
def test_only_the_written_form_names_a_version(value: str) -> None:
    with pytest.raises(BadPrecondition) as raised:
        version_of(value)
    assert raised.value.violation.field == "If-Match"


def test_a_zero_etag_names_no_version() -> None:
    with pytest.raises(BadPrecondition) as raised:
        version_of('"0"')
    assert "versions start at 1" in raised.value.violation.description


def test_list_headers_join_their_lines_and_one_value_headers_refuse_them() -> None:
    headers = RequestHeaders(
        [
            ("Accept", "text/html"),
            ("accept", "application/json"),
            ("If-Match", '"7"'),
            ("If-Match", '"1"'),
            ("X-Actor", "ann"),
            ("x-actor", "bob"),
            ("X-Request-Id", "one"),
            ("X-Request-Id", "two"),
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
            ("Idempotency-Key", "k"),
        ]
    )
    assert headers["accept"] == "text/html, application/json"
    assert headers["if-match"] == '"7", "1"'
    assert headers.get("x-request-id") is None  # several ids are none: a fresh one is made
    assert headers["idempotency-key"] == "k"
    assert "x-actor" in headers  # `in` and iteration never refuse
    assert "cookie" in headers
    assert sorted(headers) == ["accept", "cookie", "idempotency-key", "if-match", "x-actor"]
    with pytest.raises(RepeatedHeader) as raised:
        headers.get("x-actor")
    assert raised.value.violation.field == "X-Actor"
    assert "The X-Actor header is given on several lines" in str(raised.value)
    with pytest.raises(RepeatedHeader):
        headers["cookie"]  # refused only where read: the gateway never reads it
