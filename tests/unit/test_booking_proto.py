"""Timestamps in answers and events are Timestamp.FromDatetime's, whatever the time zone, before the
epoch, at the ends of the range, or naive (taken as UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from booking_service.adapters.booking_proto import stamp


@pytest.mark.parametrize(
    "value",
    [
        datetime(2027, 2, 14, 19, 0, tzinfo=UTC),
        datetime(2027, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2027, 3, 1, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=-9))),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 26, 22, 0, 0),
    ],
)
def test_stamp_is_from_datetime(value: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(value)
    assert stamp(value) == expected
