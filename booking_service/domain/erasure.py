"""Guest erasure (EraseGuestData): what a guest's personal data is, and what it becomes once erased.

The one list of where personal data sits in what this service stores and publishes:
- the guest's `name`, `email` and `phone` (Guest, on a booking and on a group): the name becomes
  MARKER (a name is required, and the marker says what happened to it); email and phone become ""
  (their "none given", valid where no marker would be a valid address or number);
- free text people write: a booking's `special_requests`, the `cancellation_reason` of a booking and
  of a group, and the `reason` of every change made through the API (history entries and event
  reasons whose source is API: a caller's or an operator's words). Non-empty text becomes MARKER,
  empty text stays empty.

Kept, so that the booking keeps working and its books stay right: ids (the guest id, booking and
group ids and references, payment and reservation ids, idempotency keys), times, statuses, money,
the venue, and text the service writes itself (reasons of source SYSTEM: expiry, refunds, a saga's
error).

The same data as requests name it (the commands an idempotency key's fingerprint digests): `guest`
(name, email, phone), `guest_name`, `guest_email`, `guest_phone`, `special_requests` (of a booking
or of a group's item) and `reason` (erased_request).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from booking_service.domain.values import Actor, ChangeSource, Guest

#: What erased text reads as, everywhere.
MARKER = "[erased]"

#: The fields of a booking an erasure replaces (the changed_fields of its history entry and event).
ERASED_FIELDS = ("guest.name", "guest.email", "guest.phone", "special_requests", "cancellation_reason")


def erased_text(text: str) -> str:
    """Free text as erased: MARKER, or "" when there was none."""
    return MARKER if text else ""


def erased_guest(guest: Guest) -> Guest:
    """The guest with nothing personal left but the id."""
    return Guest(guest.guest_id, MARKER, "", "")


def erased_reason(reason: str, actor: Actor) -> str:
    """A change's reason as erased: a person's words (source API) go, the service's own stay."""
    return erased_text(reason) if actor.source is ChangeSource.API else reason


def is_erased_guest(guest: Guest) -> bool:
    return guest == erased_guest(guest)


T = TypeVar("T")


def with_erased_reason(record: T) -> T:
    """A history entry or a domain event (anything with `reason` and `actor`) with its reason erased."""
    reason, actor = getattr(record, "reason", ""), getattr(record, "actor", None)
    if not reason or not isinstance(actor, Actor) or erased_reason(reason, actor) == reason:
        return record
    return dataclasses.replace(record, reason=erased_reason(reason, actor))  # type: ignore[type-var]


_REQUEST_TEXTS = frozenset({"guest_name", "special_requests", "reason"})
_REQUEST_CONTACTS = frozenset({"guest_email", "guest_phone"})


def erased_request(data: Any) -> Any:
    """A request as JSON-ready data (a command, as its idempotency fingerprint reads it) with the
    personal data erased, at any depth; a field left out (None) stays left out."""
    if isinstance(data, list):
        return [erased_request(value) for value in data]
    if not isinstance(data, dict):
        return data
    erased: dict[str, Any] = {}
    for name, value in data.items():
        if name == "guest" and isinstance(value, dict):
            erased[name] = {**value, "name": MARKER, "email": "", "phone": ""}
        elif name in _REQUEST_TEXTS and isinstance(value, str):
            erased[name] = erased_text(value)
        elif name in _REQUEST_CONTACTS and isinstance(value, str):
            erased[name] = ""
        else:
            erased[name] = erased_request(value)
    return erased
