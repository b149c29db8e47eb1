"""The logs' last line of defence: email addresses and phone numbers are masked wherever they turn
up in a record, and the numbers a log is made of (ids, times, durations, ports) are left alone."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from booking_service.entrypoints.logs import GuestDataFilter, JsonFormatter, TextFormatter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ada@example.com", "[email]"),
        ("email 'ada.l+dinner@mail.example.co.uk' is taken", "email '[email]' is taken"),
        ('{"email": "grace@example.org"}', '{"email": "[email]"}'),
        ("+4915112345678", "[phone]"),
        ("call +49 151 1234 5678.", "call [phone]."),
        ("(030) 123-4567", "[phone]"),
        ("555-123-4567 or 0151 12345678", "[phone] or [phone]"),
        ("tel:+14155550123", "tel:[phone]"),
        ("Niue +683 4002 or +6834002", "Niue [phone] or [phone]"),
        ("Value out of range: 4917023601701.", "Value out of range: [phone]."),
        ("call 555.123.4567 or +1.555.123.4567", "call [phone] or [phone]"),
        ("(555).123.4567; 01.23.45.67.89", "[phone]; [phone]"),
        # / = ? are address characters too: the mask takes more than the address, never less.
        ("GET /api/v1/bookings/guest/ada%40example.com", "GET [email]"),
        ("email ada.l%2Bdinner%40example.com&x=1", "email [email]&x=1"),
        ("?phone=%2B4915112345678", "?phone=[phone]"),
        ("tel%3A%2B49%20151%2012345678", "tel%3A[phone]"),
        (
            "Failing row contains (d84a52a6-6c70-40d8-94e1-467f2073660f, Ada, ada@example.com, "
            "+4915112345678, 2030-01-03 09:00:00+00)",
            "Failing row contains (d84a52a6-6c70-40d8-94e1-467f2073660f, Ada, [email], "
            "[phone], 2030-01-03 09:00:00+00)",
        ),
    ],
)
def test_email_addresses_and_phone_numbers_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "d84a52a6-6c70-40d8-94e1-467f2073660f",
        "12345678-1234-1234-1234-123456789012",  # a UUID made of digits only
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # a traceparent
        "2027-02-14T19:00:00Z",
        "2027-02-14 19:00:00.123456+00:00",
        "2027-02-14",
        "BK-C0T2HPRW",
        "BK-23456789",
        "duration_ms 1234567.25",
        "took 0:00:02.500000",
        "ipv4:127.0.0.1:50051",
        "ipv6:[::1]:8002",
        "object at 0x7f1234567890",
        "epoch 1700000000.123",
        "version 12 of booking 5b0e-create",
        "Another booking-service (pid 4194303) is already running",
        "555-1234",  # too short to tell from a count without its country code
        "postgresql://postgres@127.0.0.1:5432/test",
        "/booking.v1.BookingService/GetBooking",
        "192.168.100.200",  # dotted, but an address: no 4-digit group
        "10.100.200.250:5432",
        "29.11.2026",
        "release 2026.11.29.1234",
        "/api/v1/bookings/guest/{guest_id}",
    ],
)
def test_ids_times_durations_and_ports_are_left_alone(text: str) -> None:
    assert redact(text) == text


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("test").makeRecord("test", logging.ERROR, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_the_filter_masks_the_message_its_arguments_and_string_extras() -> None:
    record = _record(
        "guest %s rang from %s",
        "ada@example.com",
        "+4915112345678",
        booking_id="d84a52a6-6c70-40d8-94e1-467f2073660f",
        contact="ada@example.com",
        recipients=["ada@example.com", 3],
        attempts=1234567,
    )
    assert GuestDataFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "guest [email] rang from [phone]"
    assert entry["contact"] == "[email]"
    assert entry["recipients"] == ["[email]", 3]
    assert entry["booking_id"] == "d84a52a6-6c70-40d8-94e1-467f2073660f"
    assert entry["attempts"] == 1234567  # numbers are not text: left as they are


def test_the_filter_masks_exception_text_in_both_formats() -> None:
    try:
        raise ValueError("DETAIL:  Key (guest_email)=(ada@example.com) already exists.")
    except ValueError:
        record = logging.getLogger("test").makeRecord(
            "test", logging.ERROR, __file__, 1, "unexpected error", (), sys.exc_info()
        )
    assert GuestDataFilter().filter(record)
    json_line = JsonFormatter().format(record)
    text_line = TextFormatter().format(record)
    for line in (json_line, text_line):
        assert "ada@example.com" not in line
        assert "Key (guest_email)=([email]) already exists." in line
    assert "Traceback" in json.loads(json_line)["exception"]


def test_a_record_with_a_broken_format_string_still_passes_to_the_handler() -> None:
    record = _record("%d bookings", "not a number")
    assert GuestDataFilter().filter(record)
    assert record.args == ("not a number",)  # untouched: the handler reports the error when it emits


def test_the_filter_masks_dicts_and_lists_in_extras_at_any_depth_without_changing_them() -> None:
    guest = {"email": "ada@example.com", "contact": {"phones": ["555.123.4567", ("+4915112345678",)]}}
    record = _record("guest changed", guest=guest, rows=[{"email": "grace%40example.org"}], count=3)
    assert GuestDataFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["guest"] == {"email": "[email]", "contact": {"phones": ["[phone]", ["[phone]"]]}}
    assert entry["rows"] == [{"email": "[email]"}]
    assert entry["count"] == 3
    assert "example" not in TextFormatter().format(record)
    # The caller's own objects (which may be on their way to a client) are left as they were.
    assert guest["email"] == "ada@example.com"
