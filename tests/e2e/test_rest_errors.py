"""Every error the service can return, through HTTP: the one code table and the google.rpc.Status body."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from google.protobuf import json_format

from booking_service.bootstrap import bootstrap
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from booking_service.entrypoints.rest.status_map import HTTP_STATUS
from booking_service.service_layer.use_cases import UseCases
from tests.helpers import BrokenReads

Make = Callable[..., pb.CreateBookingRequest]
API = "/api/v1/bookings"
MISSING = "00000000-0000-4000-8000-00000000dead"


def test_every_grpc_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(grpc.StatusCode)
    assert {
        code.name: HTTP_STATUS[code]
        for code in (
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.ALREADY_EXISTS,
            grpc.StatusCode.ABORTED,
            grpc.StatusCode.FAILED_PRECONDITION,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.INTERNAL,
            grpc.StatusCode.UNKNOWN,
            grpc.StatusCode.CANCELLED,
        )
    } == {
        "INVALID_ARGUMENT": 400,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "ABORTED": 409,
        "FAILED_PRECONDITION": 400,
        "RESOURCE_EXHAUSTED": 429,
        "UNAVAILABLE": 503,
        "DEADLINE_EXCEEDED": 504,
        "UNAUTHENTICATED": 401,
        "PERMISSION_DENIED": 403,
        "INTERNAL": 500,
        "UNKNOWN": 500,
        "CANCELLED": 499,
    }


@asynccontextmanager
async def gateway(use_cases: UseCases, ready) -> AsyncIterator[httpx.AsyncClient]:
    server = RestServer(build_gateway(use_cases, ready), "127.0.0.1", 0)
    await server.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield client
    await server.stop(0)


async def make_booking(rest: httpx.AsyncClient, new_booking: Make, **fields: object) -> dict:
    body = json_format.MessageToDict(new_booking(**fields), preserving_proto_field_name=True)
    response = await rest.post(API, json=body)
    assert response.status_code == 200, response.text
    return response.json()


CASES: dict[str, tuple[int, grpc.StatusCode, str]] = {
    "invalid input": (400, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST"),
    "reused key": (400, grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED"),
    "bad page token": (400, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN"),
    "missing booking": (404, grpc.StatusCode.NOT_FOUND, "BOOKING_NOT_FOUND"),
    "taken unit": (409, grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE"),
    "stale version": (409, grpc.StatusCode.ABORTED, "VERSION_MISMATCH"),
    "invalid transition": (400, grpc.StatusCode.FAILED_PRECONDITION, "INVALID_TRANSITION"),
    "closed booking": (400, grpc.StatusCode.FAILED_PRECONDITION, "BOOKING_CLOSED"),
    "too early": (400, grpc.StatusCode.FAILED_PRECONDITION, "TRANSITION_TOO_EARLY"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_each_error_through_http(rest: httpx.AsyncClient, new_booking: Make, ids, case: str) -> None:
    key = ids("err-key")
    booking = await make_booking(rest, new_booking, idempotency_key=key)
    url = f"{API}/{booking['booking_id']}"
    if case == "invalid input":
        response = await rest.post(API, json={"party_size": 0})
    elif case == "reused key":
        body = json_format.MessageToDict(
            new_booking(idempotency_key=key, party_size=9), preserving_proto_field_name=True
        )
        response = await rest.post(API, json=body)
    elif case == "bad page token":
        response = await rest.get(f"{API}/guest/g", params={"page_token": "forged"})
    elif case == "missing booking":
        response = await rest.get(f"{API}/{MISSING}")
    elif case == "taken unit":
        response = await rest.post(
            API, json=json_format.MessageToDict(new_booking(), preserving_proto_field_name=True)
        )
    elif case == "stale version":
        response = await rest.post(f"{url}/cancel", json={"expected_version": 7})
    elif case == "invalid transition":
        response = await rest.post(
            f"{url}/status", json={"expected_version": 1, "status": "BOOKING_STATUS_COMPLETED"}
        )
    elif case == "closed booking":
        await rest.post(f"{url}/cancel", json={"expected_version": 1})
        response = await rest.put(url, json={"expected_version": 2, "party_size": 3})
    else:
        await rest.post(f"{url}/status", json={"expected_version": 1, "status": "BOOKING_STATUS_CONFIRMED"})
        response = await rest.post(
            f"{url}/status", json={"expected_version": 2, "status": "BOOKING_STATUS_NO_SHOW"}
        )
    http_status, code, reason = CASES[case]
    assert response.status_code == http_status, response.text
    error = response.json()
    assert error["code"] == code.value[0]
    assert error["message"]
    info = error["details"][0]
    assert (info["@type"], info["reason"], info["domain"]) == (
        "type.googleapis.com/google.rpc.ErrorInfo",
        reason,
        "booking-service",
    )
    if case == "invalid input":
        violations = error["details"][1]
        assert violations["@type"] == "type.googleapis.com/google.rpc.BadRequest"
        assert {v["field"] for v in violations["field_violations"]} >= {
            "guest.guest_id",
            "party_size",
            "start_time",
        }
    if case == "stale version":
        assert info["metadata"]["current_version"] == "1"


async def test_an_unreachable_database_is_503(settings, peers) -> None:
    app = bootstrap(settings, "postgresql://postgres@127.0.0.1:1/nowhere", peers)
    try:
        async with gateway(app.use_cases, app.is_ready) as rest:
            response = await rest.get(f"{API}/{MISSING}")
            assert (response.status_code, response.json()["details"][0]["reason"]) == (
                503,
                "STORAGE_UNAVAILABLE",
            )
            assert (await rest.get("/readyz")).status_code == 503
            assert (await rest.get("/healthz")).status_code == 200
    finally:
        await app.aclose()


async def test_an_unexpected_failure_is_500_and_reveals_nothing(app) -> None:
    def broken() -> Iterator[None]:
        raise RuntimeError("a secret stack detail")

    async with gateway(
        replace(
            app.use_cases,
            ctx=replace(app.use_cases.ctx, uow=broken, reads=BrokenReads("a secret stack detail")),
        ),
        app.is_ready,
    ) as rest:
        response = await rest.get(f"{API}/{MISSING}", headers={"X-Request-Id": "boom-1"})
    assert response.status_code == 500
    assert response.json()["code"] == grpc.StatusCode.INTERNAL.value[0]
    assert "secret" not in response.text
    assert "boom-1" in response.json()["message"]


async def test_draining_turns_readyz_503_and_finishes_requests_in_flight(
    app, database_url: str, new_booking: Make
) -> None:
    import asyncio

    import asyncpg

    server = RestServer(build_gateway(app.use_cases, app.is_ready), "127.0.0.1", 0)
    await server.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as rest:
        booking = await make_booking(rest, new_booking)
        blocker = await asyncpg.connect(database_url)
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute(
            "SELECT 1 FROM bookings WHERE booking_id = $1 FOR UPDATE", booking["booking_id"]
        )
        in_flight = asyncio.ensure_future(
            rest.put(f"{API}/{booking['booking_id']}", json={"expected_version": 1, "party_size": 3})
        )
        await asyncio.sleep(0.2)  # the update waits for the row lock
        server.gateway.draining = True
        assert (await rest.get("/readyz")).status_code == 503
        stopping = asyncio.ensure_future(server.stop(5))
        await asyncio.sleep(0.2)
        await transaction.rollback()
        await blocker.close()
        response = await in_flight
        assert (response.status_code, response.json()["party_size"]) == (200, 3)
        await stopping
