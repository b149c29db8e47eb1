"""The route table: templates, literal-over-variable precedence whatever the order, 404 and 405."""

from __future__ import annotations

import pytest
from booking.v1 import booking_pb2 as pb

from booking_service.entrypoints.rest.path_template import TemplateError, parse
from booking_service.entrypoints.rest.routes import MethodNotAllowed, Route, RouteConflict, RouteTable

SERVICE = pb.DESCRIPTOR.services_by_name["BookingService"]
GET_BOOKING = SERVICE.methods_by_name["GetBooking"]
BY_REFERENCE = SERVICE.methods_by_name["GetBookingByReference"]


def route(template: str, method=GET_BOOKING, verb: str = "GET", body: str = "") -> Route:
    return Route(method, verb, parse(template), body, "", 0)


def test_the_seed_paths_resolve_to_their_rpcs() -> None:
    table = RouteTable.from_services([SERVICE])
    expected = {
        ("POST", "/api/v1/bookings"): ("CreateBooking", {}),
        ("GET", "/api/v1/bookings/b-1"): ("GetBooking", {"booking_id": "b-1"}),
        ("GET", "/api/v1/bookings/reference/BK-1"): ("GetBookingByReference", {"booking_reference": "BK-1"}),
        ("PUT", "/api/v1/bookings/b-1"): ("UpdateBooking", {"booking_id": "b-1"}),
        ("POST", "/api/v1/bookings/b-1/cancel"): ("CancelBooking", {"booking_id": "b-1"}),
        ("POST", "/api/v1/bookings/b-1/status"): ("UpdateBookingStatus", {"booking_id": "b-1"}),
        ("GET", "/api/v1/bookings/guest/g-1"): ("ListGuestBookings", {"guest_id": "g-1"}),
        ("GET", "/api/v1/bookings/venue/v-1"): ("ListVenueBookings", {"venue_id": "v-1"}),
        ("POST", "/api/v1/bookings/availability/check"): ("CheckAvailability", {}),
    }
    for (verb, path), (rpc, params) in expected.items():
        match = table.match(verb, path)
        assert match is not None, path
        assert (match.route.method.name, match.path_params) == (rpc, params)


@pytest.mark.parametrize("reverse", [False, True])
def test_literal_segments_win_over_variables_in_any_order(reverse: bool) -> None:
    routes = [route("/v1/items/{booking_id}"), route("/v1/items/reference", BY_REFERENCE)]
    table = RouteTable(reversed(routes) if reverse else routes)
    literal = table.match("GET", "/v1/items/reference")
    assert literal is not None
    assert literal.route.method is BY_REFERENCE
    variable = table.match("GET", "/v1/items/other")
    assert variable is not None
    assert variable.path_params == {"booking_id": "other"}


def test_a_literal_that_leads_nowhere_falls_back_to_the_variable() -> None:
    table = RouteTable([route("/v1/items/reference/detail", BY_REFERENCE), route("/v1/items/{booking_id}/x")])
    literal = table.match("GET", "/v1/items/reference/detail")
    assert literal is not None
    assert literal.route.method is BY_REFERENCE
    fallback = table.match("GET", "/v1/items/reference/x")
    assert fallback is not None
    assert (fallback.route.method, fallback.path_params) == (GET_BOOKING, {"booking_id": "reference"})


def test_patterns_rest_of_path_and_verbs() -> None:
    table = RouteTable(
        [
            route("/v1/{booking_id=shelves/*/books/*}"),
            route("/v1/files/{booking_id=**}", BY_REFERENCE),
            route("/v1/items/{booking_id}:archive", verb="POST"),
        ]
    )
    nested = table.match("GET", "/v1/shelves/s1/books/b2")
    assert nested is not None
    assert nested.path_params == {"booking_id": "shelves/s1/books/b2"}
    rest = table.match("GET", "/v1/files/a/b/c.txt")
    assert rest is not None
    assert rest.path_params == {"booking_id": "a/b/c.txt"}
    custom = table.match("POST", "/v1/items/i-1:archive")
    assert custom is not None
    assert custom.path_params == {"booking_id": "i-1"}


def test_path_segments_are_percent_decoded() -> None:
    match = RouteTable([route("/v1/items/{booking_id}")]).match("GET", "/v1/items/a%2Fb%20c")
    assert match is not None
    assert match.path_params == {"booking_id": "a/b c"}


def test_unknown_paths_and_wrong_verbs() -> None:
    table = RouteTable.from_services([SERVICE])
    assert table.match("GET", "/api/v1/nothing") is None
    assert table.match("GET", "/api/v1/bookings/b-1/cancel/extra") is None
    with pytest.raises(MethodNotAllowed) as raised:
        table.match("DELETE", "/api/v1/bookings/b-1")
    assert raised.value.allowed == ["GET", "PUT"]


def test_two_rules_for_one_route_are_refused_at_start() -> None:
    with pytest.raises(RouteConflict):
        RouteTable([route("/v1/items/{booking_id}"), route("/v1/items/{booking_reference}", BY_REFERENCE)])


@pytest.mark.parametrize("template", ["v1/items", "/v1/{a", "/v1/**/x", "/v1/{1bad}", "/v1/a*b"])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        parse(template)


def test_openapi_paths_are_written_with_braces() -> None:
    assert (
        parse("/api/v1/bookings/{booking_id}/cancel").openapi_path() == "/api/v1/bookings/{booking_id}/cancel"
    )
    assert parse("/v1/{name=shelves/*}:get").openapi_path() == "/v1/{name}:get"
