"""Erasing a guest's data in the aggregate, in an answer kept under a key, and in a published event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from booking.v1 import booking_pb2
from booking.v1 import booking_pb2 as pb

from booking_service.adapters.erasure import erased_answer, erased_event
from booking_service.adapters.outbox import event_message
from booking_service.adapters.rows import snapshot
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.erasure import ERASED_FIELDS, MARKER
from booking_service.domain.errors import VersionMismatch
from booking_service.domain.events import GuestContact, GuestErased
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, Guest
from tests.unit.test_state_machine import CREATED, STAFF, booking_in

DESK = Actor("privacy-desk", STAFF.source)


def personal_booking() -> Booking:
    booking = booking_in(BookingStatus.PENDING)
    booking.guest = Guest("g", "Ada Lovelace", "ada@example.com", "+4915112345678")
    booking.special_requests = "nut allergy"
    booking.change_status(BookingStatus.CANCELLED, "Ada is ill", STAFF, CREATED, Deadlines())
    return booking


def test_an_erasure_is_a_change_that_keeps_ids_times_statuses_and_money() -> None:
    booking = personal_booking()
    booking.events.clear()
    assert booking.erase_guest_data(DESK, CREATED + timedelta(hours=1)) is True
    assert booking.guest == Guest("g", MARKER, "", "")
    assert (booking.special_requests, booking.cancellation_reason) == (MARKER, MARKER)
    assert (booking.status, booking.version, booking.guest_erased_version) == (BookingStatus.CANCELLED, 3, 3)
    [entry] = booking.new_history[-1:]
    assert (entry.changed_fields, entry.reason, entry.actor) == (ERASED_FIELDS, "", DESK)
    [event] = booking.events
    assert isinstance(event, GuestErased)
    assert (event.type, event.version, event.erased_fields) == ("booking.guest_erased", 3, ERASED_FIELDS)
    # The reasons people gave for changes not yet stored are erased too; the service's own stay.
    assert [e.reason for e in booking.new_history] == [MARKER, ""]


def test_a_second_erasure_changes_nothing() -> None:
    booking = personal_booking()
    booking.erase_guest_data(DESK, CREATED)
    booking.events.clear()
    assert booking.erase_guest_data(DESK, CREATED) is False
    assert (booking.version, booking.events) == (3, [])


def test_a_change_from_the_version_just_before_the_erasure_still_lands() -> None:
    booking = booking_in(BookingStatus.PENDING)
    booking.erase_guest_data(DESK, CREATED)
    booking.ensure_version(2)
    booking.ensure_version(1)  # only the erasure came between
    booking.change_status(BookingStatus.CANCELLED, "", STAFF, CREATED, Deadlines())
    with pytest.raises(VersionMismatch):
        booking.ensure_version(2)  # a real change came between


def test_a_kept_answer_and_a_published_event_are_erased_once() -> None:
    booking = personal_booking()
    [event] = [e for e in booking.events if e.type == "booking.cancelled"]
    # With EVENTS_GUEST_CONTACT=include: the event carried the guest's email and phone too.
    payload = event_message(event, booking, "e-1", guest_contact=GuestContact.INCLUDE).SerializeToString()
    erased = erased_event(payload)
    assert erased is not None
    message = booking_pb2.BookingEvent.FromString(erased)
    assert message.booking.guest == pb.Guest(guest_id="g", name=MARKER)
    assert (message.booking.special_requests, message.booking.cancellation_reason) == (MARKER, MARKER)
    assert (message.reason, message.event_id, message.booking_version) == (MARKER, "e-1", 2)
    assert erased_event(erased) is None
    answer = erased_answer(snapshot(booking))
    assert (answer["guest_name"], answer["guest_email"], answer["guest_phone"]) == (MARKER, "", "")
    assert (answer["special_requests"], answer["booking_id"]) == (MARKER, booking.booking_id)
    assert erased_answer(answer) == answer
