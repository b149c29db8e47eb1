"""The one table of which scope each call needs.

Reads need bookings.read, changes a guest or a booking platform makes need bookings.write, and the
status changes staff make at the venue (check-in, complete, no-show) need bookings.operate, and
changing a venue's booking rules needs venues.manage (reading them is a read), and erasing a guest's
personal data needs guests.erase: a scope of its own, since it cannot be undone and is the business
of whoever answers a guest's erasure request (not of a booking platform's writes or the venue's
staff, who operate bookings but must not wipe guests). Health
is public; reflection is a read unless AUTH_PUBLIC_REFLECTION says otherwise. A method not in the
table is refused (deny by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from booking.v1 import booking_pb2 as pb

from booking_service.entrypoints.auth.caller import ERASE_GUESTS, MANAGE_VENUES, OPERATE, READ, WRITE

_SERVICE = "/booking.v1.BookingService/"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_METHODS = frozenset(
    {
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)
#: Not a gRPC method: the REST port's Prometheus endpoint, under the same rules.
METRICS = "/metrics"

_STAFF_STATUSES = frozenset(
    {pb.BOOKING_STATUS_CHECKED_IN, pb.BOOKING_STATUS_COMPLETED, pb.BOOKING_STATUS_NO_SHOW}
)


def _status_change_scope(request: Any) -> str:
    return OPERATE if getattr(request, "status", None) in _STAFF_STATUSES else WRITE


#: What the chain calls a method the server does not have (in logs and metrics: never the name sent).
UNKNOWN_METHOD = "(unknown method)"

REQUIRED_SCOPE: dict[str, str | Callable[[Any], str]] = {
    _SERVICE + "GetBooking": READ,
    _SERVICE + "GetBookingByReference": READ,
    _SERVICE + "ListGuestBookings": READ,
    _SERVICE + "ListVenueBookings": READ,
    _SERVICE + "CheckAvailability": READ,
    #: Any reader may watch any venue or guest, as any reader may list them (no per-guest rule yet).
    _SERVICE + "WatchBookings": READ,
    _SERVICE + "SearchAvailableSlots": READ,
    _SERVICE + "CreateBooking": WRITE,
    _SERVICE + "UpdateBooking": WRITE,
    _SERVICE + "CancelBooking": WRITE,
    _SERVICE + "UpdateBookingStatus": _status_change_scope,
    _SERVICE + "GetVenuePolicy": READ,
    _SERVICE + "UpdateVenuePolicy": MANAGE_VENUES,
    _SERVICE + "GetBookingGroup": READ,
    _SERVICE + "CreateBookingGroup": WRITE,
    _SERVICE + "CancelBookingGroup": WRITE,
    _SERVICE + "EraseGuestData": ERASE_GUESTS,
    **dict.fromkeys(REFLECTION_METHODS, READ),
    METRICS: READ,
    #: A method this server does not have: a reader learns so (UNIMPLEMENTED); an anonymous caller
    #: of a service with authentication learns nothing before it says who it is.
    UNKNOWN_METHOD: READ,
}

#: A scope no token carries: what a method missing from the table requires.
UNLISTED = "bookings.unlisted-method"


def required_scope(method: str, request: Any = None) -> str:
    rule = REQUIRED_SCOPE.get(method, UNLISTED)
    return rule if isinstance(rule, str) else rule(request)
